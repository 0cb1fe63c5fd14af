// Report benchmark: 1,000,000 stored results (one custom timer, 1% errors, 4 turrets, 60 s of test)
// stored with writeResults (one COPY per 100k), then generateReport timed end to end, with the process's peak RSS.
// Run: node --import tsx bench/report.ts [--rows N] [--url postgres://…] (starts a throwaway
// cluster when no URL is given). Prints a table; the figures go in BENCHMARKS.md.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memoryLogger } from '../common/log.ts';
import { generateReport } from '../report/generate.ts';
import { mulberry32 } from '../test/support/random.ts';
import { type ResultBatch, ResultBatchBuilder } from '../protocol/results.ts';
import { openStore } from '../store/open.ts';

export interface ReportBenchResult {
  rows: number;
  insertSeconds: number;
  reportSeconds: number;
  /** Peak resident set size of the process that generated the report, MB. */
  peakRssMb: number;
  /** Its RSS once the store was open, before the report: the baseline the peak compares to. */
  rssBeforeReportMb: number;
  htmlBytes: number;
}

export async function benchReport(opts: { url: string; rows?: number }): Promise<ReportBenchResult> {
  const total = opts.rows ?? 1_000_000;
  const log = memoryLogger('warn');
  const store = await openStore({ databaseUrl: opts.url, log });
  const out = mkdtempSync(join(tmpdir(), 'oct-bench-report-'));
  try {
    const config = { run_time: 60, results_ts_interval: 10, thresholds: { p95: '<500ms', error_rate: '<2%', Example_Timer: { p99: '<1s' } } };
    const run = await store.createRun({ name: 'bench-report', config, hqId: null });
    const start = new Date();
    await store.updateRun(run.id, { state: 'finished', startedAt: start, endedAt: new Date(start.getTime() + 61_000) });
    const rnd = mulberry32(1);
    const t0 = performance.now();
    const chunk = 100_000;
    for (let done = 0; done < total; done += chunk) {
      // A batch per turret and chunk: the rows of a chunk are stored turret by turret.
      const turrets = Array.from({ length: 4 }, () => new ResultBatchBuilder());
      for (let i = done; i < Math.min(total, done + chunk); i++) {
        const elapsed = (i / total) * 60;
        const latency = 0.02 + -Math.log(1 - rnd()) * 0.03;
        turrets[i % 4]!.add({
          elapsed,
          epoch: start.getTime() / 1000 + elapsed,
          scriptrunTime: latency,
          error: i % 100 === 0 ? `HTTP ${500 + (i % 4)}` : null,
          customTimers: { Example_Timer: latency * 0.6 },
        });
      }
      const batches: ResultBatch[] = turrets.map((b, t) => b.build({ turretUuid: `turret-${t}`, turretName: `turret-${t}`, seq: null }));
      await store.writeResults(run.id, batches);
    }
    await store.sql.query('ANALYZE results');
    const insertSeconds = (performance.now() - t0) / 1000;
    // The report runs in a fresh process, so its peak RSS is the report's own, not the generator's.
    const child = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', fileURLToPath(import.meta.url), '--report-run', String(run.id), '--url', opts.url, '--out', out],
        (err, stdout, stderr) => (err ? reject(new Error(`report process failed: ${stderr}`)) : resolve(stdout)),
      ),
    );
    const r = JSON.parse(child.trim().split('\n').pop()!) as {
      seconds: number;
      transactions: number;
      peakRssMb: number;
      rssBeforeMb: number;
      htmlBytes: number;
    };
    if (r.transactions !== total) throw new Error(`report counted ${r.transactions}, expected ${total}`);
    return { rows: total, insertSeconds, reportSeconds: r.seconds, peakRssMb: r.peakRssMb, rssBeforeReportMb: r.rssBeforeMb, htmlBytes: r.htmlBytes };
  } finally {
    await store.close();
    rmSync(out, { recursive: true, force: true });
  }
}

async function reportOnly(url: string, runId: number, outDir: string): Promise<void> {
  const log = memoryLogger('warn');
  const store = await openStore({ databaseUrl: url, log });
  try {
    const run = await store.getRun(runId);
    const config = run!.config as { run_time: number; results_ts_interval: number; thresholds: Record<string, never> };
    const rssBeforeMb = process.memoryUsage().rss / 1e6;
    const t = performance.now();
    const report = await generateReport({ store, runId, outDir, config, log });
    const seconds = (performance.now() - t) / 1000;
    console.log(
      JSON.stringify({
        seconds,
        transactions: report.summary.totals.transactions,
        peakRssMb: process.resourceUsage().maxRSS / 1024,
        rssBeforeMb,
        htmlBytes: statSync(report.htmlPath).size,
      }),
    );
  } finally {
    await store.close();
  }
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && arg('--report-run')) {
  await reportOnly(arg('--url')!, Number(arg('--report-run')), arg('--out')!);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let url = arg('--url') ?? process.env.OCT_BENCH_DATABASE_URL;
  let stop: (() => void) | undefined;
  if (!url) {
    // @ts-expect-error plain ESM helper shared with the test runner script
    const { startCluster } = await import('../scripts/pg-cluster.mjs');
    const cluster = (await startCluster()) as { url: string; stop(): void };
    url = cluster.url;
    stop = () => cluster.stop();
  }
  try {
    const r = await benchReport({ url, rows: arg('--rows') ? Number(arg('--rows')) : undefined });
    const table = [
      ['results', r.rows.toLocaleString('en-US')],
      ['insert (COPY)', `${r.insertSeconds.toFixed(2)} s`],
      ['generateReport', `${r.reportSeconds.toFixed(2)} s`],
      ['report process RSS before', `${r.rssBeforeReportMb.toFixed(0)} MB`],
      ['report process peak RSS', `${r.peakRssMb.toFixed(0)} MB`],
      ['results.html', `${(r.htmlBytes / 1024).toFixed(0)} KiB`],
    ];
    for (const [k, v] of table) console.log(`${k!.padEnd(26)} ${v}`);
  } finally {
    stop?.();
  }
}
