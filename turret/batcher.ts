// Collects canon results and hands them, numbered, to the sender: each result is counted into the
// per-second histogram deltas (protocol/aggregate.ts), shipped twice a second, and — as the run's
// `results_storage` asks — kept as a row in columnar batches. Both kinds of message share one seq,
// which starts at 1 per turret process and grows by one per message, so the HQ can prove from a
// status's lastSeq that it has every one and counts none twice.
import { DeltaBuilder, encodeAggregate } from '../protocol/aggregate.ts';
import { encodeBinaryBatch } from '../protocol/binary-batch.ts';
import type { ResultsStorage } from '../protocol/orders.ts';
import { ResultBatchBuilder, type ResultRow } from '../protocol/results.ts';
import type { Sender } from './sender.ts';

// Twice a second: live thresholds see a breach within about a second of it (docs/statistics.md).
const AGGREGATE_EVERY_MS = 500;

export class Batcher {
  private builder = new ResultBatchBuilder();
  private readonly deltas = new DeltaBuilder();
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private aggregateTimer: NodeJS.Timeout | null = null;
  private rows: ResultsStorage = 'all';
  resultsRecorded = 0;

  constructor(
    private readonly sender: Sender,
    private readonly meta: { uuid: string; turret: string },
    private readonly limits: { maxResults: number; maxMs: number; aggregateMs?: number },
  ) {}

  get lastSeq(): number {
    return this.seq;
  }

  /** Which results also travel as rows: the HQ's `results_storage` order. */
  keepRows(policy: ResultsStorage): void {
    this.rows = policy;
  }

  add(row: ResultRow): void {
    this.deltas.record(row.elapsed, row.scriptrunTime, row.error, row.customTimers);
    this.resultsRecorded++;
    // A timer only while results wait: an idle turret wakes nobody up.
    if (this.aggregateTimer === null) this.aggregateTimer = setTimeout(() => this.flushAggregates(), this.limits.aggregateMs ?? AGGREGATE_EVERY_MS);
    if (this.rows === 'none' || (this.rows === 'errors' && row.error === null)) return;
    this.builder.add(row);
    if (this.builder.count >= this.limits.maxResults) this.flushRows();
    else if (this.timer === null) this.timer = setTimeout(() => this.flushRows(), this.limits.maxMs);
  }

  /** One request of a canon, counted in its series of the second it ended in (no row: rows are iterations). */
  request(elapsed: number, series: string, seconds: number, failed: boolean, status: number, sent: number, received: number): void {
    this.deltas.request(elapsed, series, seconds, failed, status, sent, received);
    this.armAggregates();
  }

  /** One value of a series that is neither an iteration nor a request (a WebSocket round trip). */
  sample(elapsed: number, series: string, seconds: number, failed: boolean): void {
    this.deltas.sample(elapsed, series, seconds, failed);
    this.armAggregates();
  }

  /** One evaluation of a named check: its series counts evaluations, its errors the failed ones. */
  check(elapsed: number, name: string, passed: boolean): void {
    this.deltas.check(elapsed, name, passed);
    this.armAggregates();
  }

  private armAggregates(): void {
    if (this.aggregateTimer === null) this.aggregateTimer = setTimeout(() => this.flushAggregates(), this.limits.aggregateMs ?? AGGREGATE_EVERY_MS);
  }

  flush(): void {
    this.flushRows();
    this.flushAggregates();
  }

  private flushRows(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.builder.count === 0) return;
    // The deltas of these rows leave just before them: a turret killed between flushes loses rows
    // and their counts together, so the stored rows and the report never disagree.
    this.flushAggregates();
    const count = this.builder.count;
    const batch = this.builder.build({ turretUuid: this.meta.uuid, turretName: this.meta.turret, seq: ++this.seq });
    this.sender.enqueue(encodeBinaryBatch(batch, { ...this.meta, seq: this.seq, aggregated: true }), count, this.seq);
  }

  private flushAggregates(): void {
    if (this.aggregateTimer !== null) {
      clearTimeout(this.aggregateTimer);
      this.aggregateTimer = null;
    }
    if (this.deltas.empty) return;
    this.sender.enqueue(encodeAggregate({ ...this.meta, seq: ++this.seq, seconds: this.deltas.take() }), 0, this.seq);
  }

  close(): void {
    this.flush();
  }
}
