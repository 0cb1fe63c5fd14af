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
import type { Intake } from './intake.ts';
import type { TurretEntry, TurretRegistry } from './turret-registry.ts';

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
  /** What was taken in, for the lifecycle: written here, read and closed there. */
  intake: Intake;
  /** Called after the registry took a status, so the lifecycle can react (start a late joiner). */
  onStatus(entry: TurretEntry, status: TurretStatus, isNew: boolean): void;
  /** A planned turret's per-second load report, from a turret the registry knows. */
  onLoad?(entry: TurretEntry, report: LoadReport): void;
}

export class Ingest {
  messages = 0;
  results = 0;

  constructor(private readonly deps: IngestDeps) {}

  handle(frames: Buffer[]): void {
    this.messages++;
    const msg = parseIncoming(frames, { maxMessageBytes: this.deps.maxMessageBytes });
    switch (msg.kind) {
      case 'results':
        this.onResults(msg.batch);
        return;
      case 'status':
        this.onStatus(msg.status);
        return;
      case 'load': {
        // Only a turret that announced itself may describe its load; anyone else is a forger.
        const entry = this.deps.registry.get(msg.report.uuid);
        if (!entry?.oct) this.onMalformed('bad_field', `load report from an unknown turret ${msg.report.uuid.slice(0, 64)}`);
        else this.deps.onLoad?.(entry, msg.report);
        return;
      }
      case 'invalid':
        this.onMalformed(msg.malformed, msg.detail);
    }
  }

  private onMalformed(kind: MalformedKind, detail: string): void {
    const n = this.deps.intake.countMalformed(kind);
    this.deps.metrics.malformed(kind);
    if (n === 1) this.deps.log.warn('malformed message ignored (further ones of this kind are only counted)', { kind, detail });
  }

  private onStatus(s: TurretStatus): void {
    this.deps.metrics.statusReceived?.();
    if (s.oct) this.deps.seq.baseline(s.uuid, s.lastSeq);
    const { entry, isNew } = this.deps.registry.onStatus(s);
    if (s.health) this.deps.metrics.turretHealth(entry.name, entry.uuid, s.health);
    this.deps.onStatus(entry, s, isNew);
  }

  private onResults(batch: ResultBatch): void {
    const now = this.deps.clock.monotonic();
    let uuid = batch.turretUuid;
    let name = batch.turretName;
    if (uuid !== null) {
      if (batch.seq !== null && this.deps.seq.accept(uuid, batch.seq) === 'duplicate') {
        this.deps.metrics.duplicate();
        return;
      }
      const entry = this.deps.registry.onResults(uuid, batch.count);
      name ??= entry?.name ?? null;
    } else {
      const entry = this.deps.registry.attribute(name);
      if (entry) {
        uuid = entry.uuid;
        name = entry.name;
        this.deps.registry.onResults(entry.uuid, batch.count);
      }
    }
    this.deps.intake.resultsArrived(now, batch.turretUuid === null);
    if (!this.deps.intake.accepting) {
      const late = this.deps.intake.countLate(batch.count);
      this.deps.metrics.dropped(batch.count);
      if (late === batch.count) this.deps.log.warn('results arrived after the run finished; not stored', { turret: name ?? 'unnamed', count: batch.count });
      return;
    }
    this.results += batch.count;
    this.deps.sink.enqueue(batch, { turretUuid: uuid, turretName: name });
    this.deps.live.add(batch, name);
    this.deps.metrics.observeBatch(batch, name);
  }
}
