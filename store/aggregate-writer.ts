// Writes the aggregator's deltas to the store, one transaction at a time, retrying after a failure
// without losing or reordering anything. The volume is a few rows per second per turret and series,
// whatever the load, so it is held in memory across a store outage instead of spilled.
import type { Logger } from '../common/log.ts';
import { backoffMs } from './retry.ts';
import type { AggregateRow, DeliveredSeq, ErrorCountRow, Store } from './types.ts';

const ROWS_PER_WRITE = 10_000;

export interface AggregateWriterStats {
  queuedRows: number;
  writtenRows: number;
  failedWrites: number;
  lastError: string | null;
}

export class AggregateWriter {
  private rows: AggregateRow[] = [];
  private errors: ErrorCountRow[] = [];
  private delivered: DeliveredSeq[] = [];
  private writing: Promise<void> | null = null;
  private readonly counts = { writtenRows: 0, failedWrites: 0 };
  private lastError: string | null = null;
  private consecutiveFailures = 0;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly runId: number,
    private readonly log: Logger,
    /** Hears the messages whose aggregates were committed (the HQ acknowledges them). */
    private readonly onDelivered: (delivered: DeliveredSeq[]) => void = () => {},
  ) {}

  /** `delivered`: the messages these rows came from, recorded with the write that stores the last of them. */
  enqueue(part: { rows: AggregateRow[]; errors: ErrorCountRow[]; delivered?: DeliveredSeq[] }): void {
    for (const r of part.rows) this.rows.push(r);
    for (const e of part.errors) this.errors.push(e);
    for (const d of part.delivered ?? []) this.delivered.push(d);
    this.kick();
  }

  stats(): AggregateWriterStats {
    return { queuedRows: this.rows.length + this.errors.length, ...this.counts, lastError: this.lastError };
  }

  /** Resolves when everything enqueued is written; rejects at the deadline with the last error. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.rows.length || this.errors.length || this.delivered.length || this.writing) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`aggregates not written after ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`);
      this.kick();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.writing, new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  /**
   * Stops writing and hands over what is not written (for a recovery file). A write in progress
   * may still commit: its rows are handed over too, so they may end up stored twice at worst.
   */
  takeUnwritten(): { rows: AggregateRow[]; errors: ErrorCountRow[] } {
    this.stopped = true;
    const out = { rows: this.rows, errors: this.errors };
    this.rows = [];
    this.errors = [];
    return out;
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.writing || (!this.rows.length && !this.errors.length && !this.delivered.length)) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = null;
      this.kick(); // rows enqueued while the last write was finishing
    });
  }

  private async writeAll(): Promise<void> {
    while (!this.stopped && (this.rows.length || this.errors.length || this.delivered.length)) {
      const rows = this.rows.slice(0, ROWS_PER_WRITE);
      const errors = this.errors.slice(0, ROWS_PER_WRITE);
      // The messages are durable only once every row enqueued with them is: the write that takes the last row.
      const last = rows.length === this.rows.length && errors.length === this.errors.length;
      const delivered = last ? this.delivered.slice() : [];
      try {
        await this.store.writeAggregates(this.runId, rows, errors, delivered);
      } catch (err) {
        this.counts.failedWrites++;
        this.consecutiveFailures++;
        const first = this.lastError === null;
        this.lastError = (err as Error).message;
        if (first) this.log.warn('writing aggregates failed; retrying (nothing is dropped)', { error: err as Error });
        await new Promise((r) => setTimeout(r, backoffMs(this.consecutiveFailures)));
        continue;
      }
      // Only what was written leaves the queue: rows enqueued meanwhile stay behind it, in order.
      this.rows.splice(0, rows.length);
      this.errors.splice(0, errors.length);
      this.delivered.splice(0, delivered.length);
      if (delivered.length) this.onDelivered(delivered);
      this.counts.writtenRows += rows.length + errors.length;
      this.consecutiveFailures = 0;
      if (this.lastError !== null) {
        this.log.info('writing aggregates again');
        this.lastError = null;
      }
    }
  }
}
