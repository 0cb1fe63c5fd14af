// Writes the aggregator's deltas to the store, one transaction at a time, retrying after a failure
// without losing or reordering anything. The volume is a few rows per second per turret and series,
// whatever the load, so it is held in memory across a store outage instead of spilled.
import type { Logger } from '../common/log.ts';
import type { AggregateRow, ErrorCountRow, Store } from './types.ts';

const RETRY_MS = 500;
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
  private writing: Promise<void> | null = null;
  private readonly counts = { writtenRows: 0, failedWrites: 0 };
  private lastError: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly runId: number,
    private readonly log: Logger,
  ) {}

  enqueue(part: { rows: AggregateRow[]; errors: ErrorCountRow[] }): void {
    for (const r of part.rows) this.rows.push(r);
    for (const e of part.errors) this.errors.push(e);
    this.kick();
  }

  stats(): AggregateWriterStats {
    return { queuedRows: this.rows.length + this.errors.length, ...this.counts, lastError: this.lastError };
  }

  /** Resolves when everything enqueued is written; rejects at the deadline with the last error. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.rows.length || this.errors.length || this.writing) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`aggregates not written after ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`);
      this.kick();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.writing, new Promise((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
  }

  private kick(): void {
    if (this.writing || (!this.rows.length && !this.errors.length)) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = null;
      this.kick(); // rows enqueued while the last write was finishing
    });
  }

  private async writeAll(): Promise<void> {
    while (this.rows.length || this.errors.length) {
      const rows = this.rows.slice(0, ROWS_PER_WRITE);
      const errors = this.errors.slice(0, ROWS_PER_WRITE);
      try {
        await this.store.writeAggregates(this.runId, rows, errors);
      } catch (err) {
        this.counts.failedWrites++;
        const first = this.lastError === null;
        this.lastError = (err as Error).message;
        if (first) this.log.warn('writing aggregates failed; retrying (nothing is dropped)', { error: err as Error });
        await new Promise((r) => setTimeout(r, RETRY_MS));
        continue;
      }
      // Only what was written leaves the queue: rows enqueued meanwhile stay behind it, in order.
      this.rows.splice(0, rows.length);
      this.errors.splice(0, errors.length);
      this.counts.writtenRows += rows.length + errors.length;
      if (this.lastError !== null) {
        this.log.info('writing aggregates again');
        this.lastError = null;
      }
    }
  }
}
