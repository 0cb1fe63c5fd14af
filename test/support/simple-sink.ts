import type { ResultSink } from '../../hq/ingest.ts';
import type { ResultBatch } from '../../protocol/results.ts';
import type { Store } from '../../store/types.ts';

/**
 * A plain serial writer for tests written before the store's ResultWriter existed: enqueue never
 * blocks, writes run one at a time. Not a replacement for the real writer (no spill, no bound).
 */
export function simpleSink(store: Store, runId: number): ResultSink {
  const queue: ResultBatch[] = [];
  let written = 0;
  let running: Promise<void> | null = null;
  const pump = async (): Promise<void> => {
    while (queue.length) {
      // Chunks of ~20k rows: one huge COPY text would not fit in memory.
      let rows = 0;
      let k = 0;
      while (k < queue.length && rows < 20_000) rows += queue[k++]!.count;
      const batches = queue.splice(0, k);
      written += await store.writeResults(runId, batches);
    }
  };
  return {
    enqueue(batch) {
      queue.push(batch);
      running ??= pump().finally(() => (running = null));
    },
    stats: () => ({
      queuedRows: queue.reduce((n, b) => n + b.count, 0),
      spilledRows: 0,
      writtenRows: written,
      inFlightRows: 0,
      lagSeconds: 0,
      failedWrites: 0,
    }),
    async drain() {
      while (running) await running;
    },
  };
}
