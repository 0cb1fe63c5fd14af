// HQ ingest: results per second that one HQ stores in a Postgres server with nothing lost, fed by
// N sender processes pushing binary batches at full speed (bench/hq-ingest-sender.ts). Everything
// shares this machine's cores: senders, the HQ's JS thread, the ZeroMQ I/O thread and Postgres.
// Run alone: node --import tsx bench/hq-ingest.ts [--senders 2] [--seconds 5] [--batch 2000] [--chunks] [--cpu-prof]
// (--chunks: the writer commits every 10k rows, the older writer's COPY per chunk, for a comparison in the same tree)
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../common/log.ts';
import { generateKeys, hqKeysOf, turretKeysOf, writeTurretKeys } from '../common/keys-dir.ts';
import { parseProjectConfig } from '../protocol/config.ts';
import { openPostgresStore } from '../store/postgres.ts';
import { Hq } from '../hq/hq.ts';
import { ResultWriter } from '../store/result-writer.ts';
import { simpleSink } from '../test/support/simple-sink.ts';
// @ts-expect-error plain ESM helper shared with the test runner
import { startCluster } from '../scripts/pg-cluster.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface HqIngestResult {
  senders: number;
  batchSize: number;
  runSeconds: number;
  sent: number;
  received: number;
  stored: number;
  lost: number;
  duplicates: number;
  missingBatches: number;
  /** Stored rows over the time from start to the last row written. */
  storedPerSecond: number;
  /** Received results over the sending time. */
  receivedPerSecond: number;
  /** Seconds the writer needed after the stop to catch up. */
  drainSeconds: number;
  maxQueuedRows: number;
  spilledRows: number;
  /** Rows the writer stored while the senders were sending, per second of sending (CPU shared with them). */
  writtenWhileSendingPerSecond: number;
  /** Rows stored after the stop, per second of drain (mostly read back from the spill file). */
  drainPerSecond: number;
  /** Longest time writtenRows did not move while rows were waiting (a stalled writer), seconds. */
  longestStallSeconds: number;
  /** Results the senders pushed per second of their sending, summed. */
  sentPerSecond: number;
}

export async function benchHqIngest(
  opts: {
    senders?: number;
    seconds?: number;
    batchSize?: number;
    databaseUrl?: string;
    simpleSink?: boolean;
    /** 'stream' (default): the ResultWriter commits every 100k rows or 1 s; 'chunks': every 10k rows (the older chunk size). */
    writer?: 'stream' | 'chunks';
    /** CURVE on both sockets, senders stamping every message (bench/curve.ts compares). */
    curve?: boolean;
  } = {},
): Promise<HqIngestResult> {
  const senders = opts.senders ?? 2;
  const seconds = opts.seconds ?? 5;
  const batchSize = opts.batchSize ?? 2000;
  const cluster = opts.databaseUrl ? null : await startCluster();
  const url: string = opts.databaseUrl ?? cluster.url;
  const log = createLogger({ level: 'warn', component: 'bench' });
  const store = await openPostgresStore(url, log);
  await store.migrate();
  let maxQueued = 0;
  let startedMono = 0;
  let stopMono = 0;
  let writtenAtStop = 0;
  let lastWritten = -1;
  let lastMoveMono = 0;
  let longestStall = 0;
  const keys = opts.curve ? generateKeys() : null;
  const keysDir = keys ? mkdtempSync(join(tmpdir(), 'oct-bench-keys-')) : null;
  if (keys && keysDir) writeTurretKeys(keysDir, turretKeysOf(keys));
  try {
    const hq = await Hq.bind({
      config: parseProjectConfig({ publish_port: 0, rc_port: 0, min_turrets: senders, run_time: seconds, stop_grace: 30, turrets_wait_timeout: 60 }),
      store,
      runName: `bench-${Date.now()}`,
      log,
      bindHost: '127.0.0.1',
      spillDir: mkdtempSync(join(tmpdir(), 'oct-bench-spill-')),
      drainTimeoutMs: 300_000,
      curve: keys ? hqKeysOf(keys, 'bench') : undefined,
      createSink: opts.simpleSink
        ? (s, id) => simpleSink(s, id)
        : opts.writer === 'chunks'
          ? (s, id, o) => new ResultWriter({ store: s, runId: id, ...o, commitRows: 10_000 })
          : undefined,
      onProgress: (p) => {
        const now = performance.now();
        if (p.state === 'running' && !startedMono) startedMono = now;
        const w = hq.status().writer;
        if (p.state === 'draining' && !stopMono) {
          stopMono = now;
          writtenAtStop = w.writtenRows;
        }
        if (w.writtenRows !== lastWritten || w.queuedRows + w.spilledRows + w.inFlightRows === 0) {
          lastWritten = w.writtenRows;
          lastMoveMono = now;
        } else if (lastMoveMono) longestStall = Math.max(longestStall, (now - lastMoveMono) / 1000);
        maxQueued = Math.max(maxQueued, hq.status().writer.queuedRows);
        if (process.env.OCT_BENCH_VERBOSE)
          console.error(
            JSON.stringify({
              state: p.state,
              t: p.elapsedSeconds.toFixed(1),
              tx: p.transactions,
              rate: Math.round(p.ratePerSecond),
              writer: hq.status().writer,
            }),
          );
      },
    });
    const children = Array.from({ length: senders }, (_, i) =>
      spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(ROOT, 'bench', 'hq-ingest-sender.ts'),
          String(hq.endpoints.publishPort),
          String(hq.endpoints.resultsPort),
          `sender-${i}`,
          String(batchSize),
          ...(keysDir ? [keysDir] : []),
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
          cwd: ROOT,
        },
      ),
    );
    const reports = children.map(
      (c) =>
        new Promise<{ results: number; seconds: number }>((res, rej) => {
          let out = '';
          c.stdout!.on('data', (d) => (out += d));
          c.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!)) : rej(new Error(`sender exited ${code}`))));
        }),
    );
    const outcome = await hq.run();
    const endMono = performance.now();
    const sent = (await Promise.all(reports)).reduce((n, r) => n + r.results, 0);
    await hq.close();
    const [row] = await store.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM results WHERE run_id = $1', [outcome.runId]);
    const stored = Number(row!.n);
    if (outcome.state !== 'finished') throw new Error(`run ${outcome.state}: ${outcome.error}`);
    if (outcome.rejectedMessages) throw new Error(`${outcome.rejectedMessages} messages refused`);
    return {
      sentPerSecond: (await Promise.all(reports)).reduce((n, r) => n + r.results / r.seconds, 0),
      senders,
      batchSize,
      runSeconds: seconds,
      sent,
      received: outcome.transactions,
      stored,
      lost: sent - stored,
      duplicates: outcome.duplicates,
      missingBatches: outcome.missingBatches,
      storedPerSecond: stored / ((endMono - startedMono) / 1000),
      receivedPerSecond: outcome.transactions / ((stopMono - startedMono) / 1000),
      drainSeconds: (endMono - stopMono) / 1000,
      maxQueuedRows: maxQueued,
      spilledRows: outcome.writer.spilledRows,
      writtenWhileSendingPerSecond: writtenAtStop / ((stopMono - startedMono) / 1000),
      drainPerSecond: (stored - writtenAtStop) / ((endMono - stopMono) / 1000),
      longestStallSeconds: longestStall,
    };
  } finally {
    await store.close();
    cluster?.stop();
  }
}

export function formatHqIngest(r: HqIngestResult): string {
  const k = (n: number) => `${Math.round(n / 1000)}k`;
  return [
    `HQ ingest: ${r.senders} senders × binary batches of ${r.batchSize}, ${r.runSeconds} s, Postgres server (COPY)`,
    `  stored      ${r.stored} of ${r.sent} sent (lost ${r.lost}, duplicates ${r.duplicates}, missing batches ${r.missingBatches})`,
    `  stored/s    ${k(r.storedPerSecond)} results/s (start → last row written)`,
    `  received/s  ${k(r.receivedPerSecond)} results/s (while sending)`,
    `  drain       ${r.drainSeconds.toFixed(2)} s after stop; max queued ${r.maxQueuedRows} rows; spilled ${r.spilledRows}`,
    `  writer      ${k(r.writtenWhileSendingPerSecond)}/s while sending, ${k(r.drainPerSecond)}/s draining; longest stall ${r.longestStallSeconds.toFixed(1)} s`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await benchHqIngest({
    senders: arg('senders', 2),
    seconds: arg('seconds', 5),
    batchSize: arg('batch', 2000),
    simpleSink: process.argv.includes('--simple-sink'),
    writer: process.argv.includes('--chunks') ? 'chunks' : 'stream',
  });
  console.log(formatHqIngest(r));
  if (r.lost !== 0) process.exitCode = 1;
}
