// What the socket loop does with one ZeroMQ message: parse it once, then hand it off. Results go to
// the result sink (the store writer, which never blocks), the live stats and the metrics; statuses
// go to the turret registry. Nothing here awaits anything, and nothing here throws on bad input.
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { type MalformedKind, parseIncoming, type TurretStatus } from '../protocol/incoming.ts';
import type { LoadReport } from '../protocol/load-report.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { LiveStats } from './live-stats.ts';
import type { HqMetricsHooks, WriterStats } from './metrics-hooks.ts';
import type { SequenceTracker } from './sequence-tracker.ts';
import type { TurretEntry, TurretRegistry } from './turret-registry.ts';

export const MALFORMED_KINDS: MalformedKind[] = [
  'oversized',
  'not_json',
  'not_object',
  'unknown_message',
  'missing_field',
  'bad_field',
  'bad_binary',
  'bad_frames',
];

/** The part of the store's ResultWriter the HQ uses. */
export interface ResultSink {
  enqueue(batch: ResultBatch, meta: { turretUuid: string | null; turretName: string | null }): void;
  stats(): WriterStats & { lastError?: string | null };
  /** Resolves when everything enqueued is written; rejects at the deadline. */
  drain(timeoutMs: number): Promise<unknown>;
  close?(): Promise<void>;
}

export interface IngestDeps {
  clock: Clock;
  log: Logger;
  registry: TurretRegistry;
  seq: SequenceTracker;
  live: LiveStats;
  sink: ResultSink;
  metrics: HqMetricsHooks;
  maxMessageBytes: number;
  /** Called after the registry took a status, so the lifecycle can react (start a late joiner). */
  onStatus(entry: TurretEntry, status: TurretStatus, isNew: boolean): void;
  /** A planned turret's per-second load report, from a turret the registry knows. */
  onLoad?(entry: TurretEntry, report: LoadReport): void;
}

export class Ingest {
  /** False once the run is finished: results after that cannot be stored any more. */
  accepting = true;
  readonly malformed = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])) as Record<MalformedKind, number>;
  messages = 0;
  results = 0;
  /** Results received when no longer accepting (after the run's final drain). */
  late = 0;
  /** Monotonic ms of the last result without a uuid: legacy turrets are "quiet" after it. */
  lastLegacyResultMono = -Infinity;
  lastResultMono = -Infinity;

  constructor(private readonly d: IngestDeps) {}

  handle(frames: Buffer[]): void {
    this.messages++;
    const msg = parseIncoming(frames, { maxMessageBytes: this.d.maxMessageBytes });
    switch (msg.kind) {
      case 'results':
        this.onResults(msg.batch);
        return;
      case 'status':
        this.onStatus(msg.status);
        return;
      case 'load': {
        // Only a turret that announced itself may describe its load; anyone else is a forger.
        const entry = this.d.registry.get(msg.report.uuid);
        if (!entry?.oct) this.onMalformed('bad_field', `load report from an unknown turret ${msg.report.uuid.slice(0, 64)}`);
        else this.d.onLoad?.(entry, msg.report);
        return;
      }
      case 'invalid':
        this.onMalformed(msg.malformed, msg.detail);
    }
  }

  /** One line per kind for the log at the end of a run (the first of each was logged in full). */
  malformedSummary(): string | null {
    const parts = MALFORMED_KINDS.filter((k) => this.malformed[k] > 0).map((k) => `${k}=${this.malformed[k]}`);
    return parts.length ? parts.join(' ') : null;
  }

  private onMalformed(kind: MalformedKind, detail: string): void {
    const n = ++this.malformed[kind];
    this.d.metrics.malformed(kind);
    if (n === 1) this.d.log.warn('malformed message ignored (further ones of this kind are only counted)', { kind, detail });
  }

  private onStatus(s: TurretStatus): void {
    this.d.metrics.statusReceived?.();
    if (s.oct) this.d.seq.baseline(s.uuid, s.lastSeq);
    const { entry, isNew } = this.d.registry.onStatus(s);
    if (s.health) this.d.metrics.turretHealth(entry.name, entry.uuid, s.health);
    this.d.onStatus(entry, s, isNew);
  }

  private onResults(batch: ResultBatch): void {
    const now = this.d.clock.monotonic();
    let uuid = batch.turretUuid;
    let name = batch.turretName;
    if (uuid !== null) {
      if (batch.seq !== null && this.d.seq.accept(uuid, batch.seq) === 'duplicate') {
        this.d.metrics.duplicate();
        return;
      }
      const entry = this.d.registry.onResults(uuid, batch.count);
      name ??= entry?.name ?? null;
    } else {
      this.lastLegacyResultMono = now;
      const entry = this.d.registry.attribute(name);
      if (entry) {
        uuid = entry.uuid;
        name = entry.name;
        this.d.registry.onResults(entry.uuid, batch.count);
      }
    }
    this.lastResultMono = now;
    if (!this.accepting) {
      this.late += batch.count;
      this.d.metrics.dropped(batch.count);
      if (this.late === batch.count) this.d.log.warn('results arrived after the run finished; not stored', { turret: name ?? 'unnamed', count: batch.count });
      return;
    }
    this.results += batch.count;
    this.d.sink.enqueue(batch, { turretUuid: uuid, turretName: name });
    this.d.live.add(batch, name);
    this.d.metrics.observeBatch(batch, name);
  }
}
