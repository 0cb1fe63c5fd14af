// Store ingest: rows per second the ResultWriter gets into the store, fed at full speed in
// 100-row batches the way the HQ socket loop hands them over (yielding to the event loop between
// bursts). Compared in the same run against a peer: the same rows as a single COPY with no writer,
// the upper bound. Also reports how busy the calling thread was (event-loop utilisation): for the
// embedded store that thread should only pass messages, PGlite runs in its worker.
// Run alone: node --import tsx bench/store-ingest.ts [--rows 200000] [--no-embedded]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { createLogger } from '../common/log.ts';
import { ResultBatchBuilder, type ResultBatch } from '../protocol/results.ts';
import { openStore } from '../store/open.ts';
import { ResultWriter } from '../store/result-writer.ts';
import type { Store } from '../store/types.ts';
// @ts-expect-error plain ESM helper shared with the test runner
import { startCluster } from '../scripts/pg-cluster.mjs';

export interface StoreIngestOptions {
  /** A Postgres server; without it, embeddedDir (or a temp dir) is used. */
  url?: string;
  embeddedDir?: string;
  rows: number;
  batchSize?: number;
}

export interface StoreIngestResult {
  backend: 'postgres' | 'embedded';
  rows: number;
  stored: number;
  seconds: number;
  rowsPerSec: number;
  /** Time to open (and migrate) the store; for embedded, mostly PGlite starting in its worker. */
  openMs: number;
  /** Share of wall time the calling (HQ) thread was busy during ingest, 0..1. */
  callerElu: number;
  peakQueuedRows: number;
  peakSpilledRows: number;
  /** The same rows as one COPY through store.writeResults, no writer: the upper bound. */
  peerOneCopyRowsPerSec: number;
}

function makeBatches(rows: number, size: number): ResultBatch[] {
  const out: ResultBatch[] = [];
  const epoch = Date.now() / 1000;
  for (let start = 0; start < rows; start += size) {
    const b = new ResultBatchBuilder();
    for (let i = start; i < Math.min(rows, start + size); i++) {
      b.add({
        elapsed: i / 1000,
        epoch,
        scriptrunTime: 0.001 + (i % 50) / 10_000,
        error: i % 100 === 0 ? 'HTTP 500' : null,
        customTimers: i % 4 === 0 ? { login: 0.01 } : {},
      });
    }
    out.push(b.build({ turretUuid: null, turretName: null, seq: null }));
  }
  return out;
}

async function ingest(store: Store, batches: ResultBatch[], spillDir: string) {
  const run = await store.createRun({ name: 'bench-store-ingest', config: {}, hqId: null });
  const writer = new ResultWriter({ store, runId: run.id, log: createLogger({ level: 'error' }), spillDir });
  let peakQueued = 0;
  let peakSpilled = 0;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  for (let i = 0; i < batches.length; i++) {
    writer.enqueue({ ...batches[i]!, turretUuid: `u${i % 4}`, turretName: `t${i % 4}` });
    if (i % 50 === 49) {
      const s = writer.stats();
      peakQueued = Math.max(peakQueued, s.queuedRows);
      peakSpilled = Math.max(peakSpilled, s.spilledRows);
      await new Promise((r) => setImmediate(r));
    }
  }
  await writer.drain(120_000);
  const seconds = (performance.now() - t0) / 1000;
  const elu = performance.eventLoopUtilization(elu0).utilization;
  await writer.close();
  const [c] = await store.sql.query<{ n: number }>('SELECT count(*) AS n FROM results WHERE run_id = $1', [run.id]);

  const peerRun = await store.createRun({ name: 'bench-store-ingest-peer', config: {}, hqId: null });
  const p0 = performance.now();
  await store.writeResults(peerRun.id, batches);
  const peerSeconds = (performance.now() - p0) / 1000;
  return { seconds, elu, stored: c!.n, peakQueued, peakSpilled, peerSeconds };
}

export async function benchStoreIngest(opts: StoreIngestOptions): Promise<StoreIngestResult> {
  const scratch = mkdtempSync(join(tmpdir(), 'oct-bench-store-'));
  const batches = makeBatches(opts.rows, opts.batchSize ?? 100);
  try {
    const o0 = performance.now();
    const store = await openStore({
      databaseUrl: opts.url,
      embeddedDir: opts.embeddedDir ?? join(scratch, 'db'),
      log: createLogger({ level: 'error' }),
    });
    const openMs = Math.round(performance.now() - o0);
    try {
      const r = await ingest(store, batches, scratch);
      return {
        backend: store.kind,
        rows: opts.rows,
        stored: r.stored,
        seconds: Number(r.seconds.toFixed(3)),
        rowsPerSec: Math.round(opts.rows / r.seconds),
        openMs,
        callerElu: Number(r.elu.toFixed(2)),
        peakQueuedRows: r.peakQueued,
        peakSpilledRows: r.peakSpilled,
        peerOneCopyRowsPerSec: Math.round(opts.rows / r.peerSeconds),
      };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const rows = Number(arg('rows') ?? 200_000);
  const cluster = (await startCluster()) as { url: string; stop(): void };
  const results: StoreIngestResult[] = [];
  try {
    results.push(await benchStoreIngest({ url: cluster.url, rows }));
    if (!argv.includes('--no-embedded')) results.push(await benchStoreIngest({ rows }));
  } finally {
    cluster.stop();
  }
  console.log(`store ingest, ${rows} rows in 100-row batches through ResultWriter (Postgres: one open COPY, committed every 100k rows)`);
  console.table(
    results.map((r) => ({
      backend: r.backend,
      'rows/s (writer)': r.rowsPerSec,
      'rows/s (peer: one COPY)': r.peerOneCopyRowsPerSec,
      'writer/peer': Number((r.rowsPerSec / r.peerOneCopyRowsPerSec).toFixed(2)),
      'stored = sent': r.stored === r.rows,
      'caller thread busy': r.callerElu,
      'open ms': r.openMs,
      'peak queued': r.peakQueuedRows,
    })),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
