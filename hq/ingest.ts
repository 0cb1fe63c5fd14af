// What the socket loop does with one ZeroMQ message: parse it once, then hand it off. Aggregates
// and results are counted once, by the aggregator (from an oct turret's deltas, or from the rows of
// a turret that sends only rows); rows go to the result sink (the store writer, which never blocks)
// as `results_storage` asks; statuses go to the turret registry. Nothing here awaits anything, and
// nothing here throws on bad input.
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { claimedUuid, type MalformedKind, parseIncoming, type TurretStatus } from '../protocol/incoming.ts';
import type { LoadReport } from '../protocol/load-report.ts';
import type { AggregateMessage } from '../protocol/aggregate.ts';
import type { ResultsStorage } from '../protocol/orders.ts';
import { ALL_TRANSACTIONS_SERIES, failedOnly, type ResultBatch } from '../protocol/results.ts';
import type { Aggregator } from './aggregator.ts';
import type { HqMetricsHooks, WriterStats } from './metrics-hooks.ts';
import { SEQ_WINDOW, type SequenceTracker } from './sequence-tracker.ts';
import type { DeliveryTracker } from './delivery.ts';
import type { Intake } from './intake.ts';
import type { TurretEntry, TurretRegistry } from './turret-registry.ts';
import { describeRefusal, type IdentityRefusal, type TurretIdentity } from './turret-identity.ts';

/** The part of the store's ResultWriter the HQ uses. */
export interface ResultSink {
  /** The batch carries the turret the HQ attributed it to (turretUuid/turretName; a null name: legacy). */
  enqueue(batch: ResultBatch): void;
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
  stats: Aggregator;
  sink: ResultSink;
  /** Which results are stored row by row. */
  rows: ResultsStorage;
  metrics: HqMetricsHooks;
  maxMessageBytes: number;
  /** What was taken in, for the lifecycle: written here, read and closed there. */
  intake: Intake;
  /** Which numbered messages are stored: told here about those with nothing to store. */
  delivery: Pick<DeliveryTracker, 'durable' | 'known'>;
  /** Called after the registry took a status, so the lifecycle can react (start a late joiner). */
  onStatus(entry: TurretEntry, status: TurretStatus, isNew: boolean): void;
  /** A planned turret's per-second load report, from a turret the registry knows. */
  onLoad?(entry: TurretEntry, report: LoadReport): void;
  /** Under CURVE: who may speak for which uuid. Absent when plaintext is allowed. */
  identity?: TurretIdentity;
}

export class Ingest {
  messages = 0;
  results = 0;
  private readonly refusalsLogged = new Set<IdentityRefusal>();

  constructor(private readonly deps: IngestDeps) {}

  handle(frames: Buffer[]): void {
    this.messages++;
    const msg = parseIncoming(frames, { maxMessageBytes: this.deps.maxMessageBytes, nowSeconds: this.deps.clock.now() / 1000 });
    if (msg.kind !== 'invalid' && this.deps.identity) {
      const uuid = claimedUuid(msg);
      const refusal = this.deps.identity.check(uuid, msg.auth);
      if (refusal) {
        this.onRefused(refusal, uuid, msg.auth?.key ?? null);
        return;
      }
    }
    switch (msg.kind) {
      case 'results':
        this.onResults(msg.batch);
        return;
      case 'status':
        this.onStatus(msg.status);
        return;
      case 'aggregate':
        this.onAggregate(msg.message);
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

  private onRefused(refusal: IdentityRefusal, uuid: string | null, key: string | null): void {
    this.deps.intake.countRejected();
    this.deps.metrics.rejected?.('identity');
    if (this.refusalsLogged.has(refusal)) return;
    this.refusalsLogged.add(refusal);
    this.deps.log.warn('message refused: its sender may not speak for that turret (further ones of this kind are only counted)', {
      why: describeRefusal(refusal),
      uuid: uuid?.slice(0, 64) ?? 'none',
      key: key ?? 'none',
    });
  }

  private onStatus(s: TurretStatus): void {
    // A seq far ahead would hold the end of the run waiting for batches that never come: the whole status is refused.
    if (!this.deps.seq.plausible(s.uuid, s.lastSeq)) {
      this.outOfWindow(s.uuid, s.lastSeq!);
      return;
    }
    this.deps.metrics.statusReceived?.();
    if (s.oct) {
      // What the turret says its HQ acknowledged: a restarted HQ takes its re-sent messages after that.
      const from = s.acked ?? s.lastSeq;
      this.deps.seq.baseline(s.uuid, from);
      this.deps.delivery.known(s.uuid, from ?? 0);
    }
    const { entry, isNew } = this.deps.registry.onStatus(s);
    if (s.health) this.deps.metrics.turretHealth(entry.name, entry.uuid, s.health);
    this.deps.onStatus(entry, s, isNew);
  }

  /** The seq check for a numbered message; false when it was seen before (counted once already) or is refused. */
  private firstTime(uuid: string, seq: number | null): boolean {
    const verdict = seq === null ? 'new' : this.deps.seq.accept(uuid, seq);
    if (verdict === 'new') return true;
    if (verdict === 'duplicate') this.deps.metrics.duplicate();
    else this.outOfWindow(uuid, seq!);
    return false;
  }

  private outOfWindow(uuid: string, seq: number): void {
    const top = this.deps.seq.highestSeq(uuid);
    this.onMalformed('seq_out_of_window', `seq ${seq} from ${uuid.slice(0, 64)} is more than ${SEQ_WINDOW} past its highest accepted seq ${top}`);
  }

  private late(count: number, turret: string | null): boolean {
    if (this.deps.intake.accepting) return false;
    const late = this.deps.intake.countLate(count);
    this.deps.metrics.dropped(count);
    if (count > 0 && late === count) this.deps.log.warn('results arrived after the run finished; not stored', { turret: turret ?? 'unnamed', count });
    return true;
  }

  private onAggregate(m: AggregateMessage): void {
    // Like result batches, accepted before the turret's status (an HQ that restarted mid-run hears
    // results first); the seq stream still guards against counting one twice.
    if (!this.firstTime(m.uuid, m.seq)) return;
    this.deps.metrics.aggregateReceived?.();
    const entry = this.deps.registry.get(m.uuid);
    const turret = { uuid: m.uuid, name: entry?.name ?? (m.turret || null) };
    let count = 0;
    for (const s of m.seconds) for (const d of s.series) if (d.name === ALL_TRANSACTIONS_SERIES) count += d.hist.n;
    this.deps.intake.resultsArrived(this.deps.clock.monotonic(), false);
    if (this.late(count, turret.name)) {
      this.deps.delivery.durable([{ uuid: m.uuid, seq: m.seq }]);
      return;
    }
    this.deps.registry.onResults(m.uuid, count);
    this.results += count;
    const refused = this.deps.stats.addDeltas(turret, m.seconds, m.seq);
    for (let i = 0; i < refused; i++) this.onMalformed('series_cap', `custom timer series beyond the cap from ${turret.name ?? m.uuid}`);
  }

  private onResults(batch: ResultBatch): void {
    const now = this.deps.clock.monotonic();
    let uuid = batch.turretUuid;
    let name = batch.turretName;
    if (uuid !== null) {
      if (!this.firstTime(uuid, batch.seq)) return;
      // Rows a turret also counted in its aggregates are counted there, not twice (0 still says it is alive).
      const entry = this.deps.registry.onResults(uuid, batch.preAggregated ? 0 : batch.count);
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
    // A numbered message acknowledged at once when nothing of it is stored: late, or rows the run does not keep.
    const nothingStored = () => {
      if (batch.turretUuid !== null && batch.seq !== null) this.deps.delivery.durable([{ uuid: batch.turretUuid, seq: batch.seq }]);
    };
    // Late rows a turret also aggregated are counted late with its aggregate, not here.
    if (this.late(batch.preAggregated ? 0 : batch.count, name)) {
      nothingStored();
      return;
    }
    const rows = this.deps.rows === 'all' ? batch : this.deps.rows === 'errors' ? failedOnly(batch) : null;
    const stored = rows !== null && rows.count > 0;
    if (!batch.preAggregated) {
      this.results += batch.count;
      // Rows that are stored acknowledge the message once they are (the sink says so), not when the aggregates are.
      this.deps.stats.addRows(batch, { uuid, name }, { acknowledge: !stored });
    }
    this.deps.metrics.observeBatch(batch, name);
    // A legacy batch names its turret only here, once attributed: the stored rows say who sent them.
    if (stored) this.deps.sink.enqueue({ ...rows, turretUuid: uuid, turretName: name });
    else if (batch.preAggregated) nothingStored();
  }
}
