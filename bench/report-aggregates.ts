// Report over the stored aggregates: generateReport's cost grows with the stored deltas (seconds ×
// series × turrets), not with the results they stand for. Per store (embedded PGlite, and a
// Postgres server), three runs of one shape — 4 turrets × 3 series (run() time + 2 custom timers)
// × 2,000 s, each second in 2 pieces as a turret's 1-s flush timer cuts it, 1% errors in 4 messages:
//   - agg-100M: histograms generated per turret-second from the latency model (12,500
//     transactions each), written with writeAggregates: 100,000,000 results;
//   - agg-1M: the same generator at 125 per turret-second: 1,000,000 results;
//   - raw-1M: 1,000,000 single results drawn from the same model, stored with writeResults, and
//     their aggregates built by the real DeltaBuilder (what a turret sends): the peer, reported
//     both from its aggregates and with `exact: true` (the SQL over every row, report/stats.ts).
// Each report runs in a fresh process (cold, as `oct report`), timed end to end, then the
// read + statistics part alone (readAggregates + statsFromAggregates; computeStats for exact).
// Run alone: node --import tsx bench/report-aggregates.ts [--url postgres://…] [--no-embedded]
//   [--no-postgres] [--repeat 3]   (starts a throwaway Postgres when no --url is given)
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memoryLogger } from '../common/log.ts';
import { DeltaBuilder, type SecondDelta } from '../protocol/aggregate.ts';
import { bucketBounds, bucketOf, type EncodedHistogram, HISTOGRAM_BUCKETS, toMicros } from '../protocol/histogram.ts';
import { ALL_TRANSACTIONS_SERIES, type ResultBatch, ResultBatchBuilder } from '../protocol/results.ts';
import { statsFromAggregates } from '../report/aggregate-stats.ts';
import { generateReport } from '../report/generate.ts';
import { parseThresholds } from '../report/thresholds.ts';
import { judgeWindows } from '../report/window-thresholds.ts';
import { computeStats } from '../report/stats.ts';
import { turretInfo } from '../report/turret-info.ts';
import { openStore } from '../store/open.ts';
import type { AggregateRow, ErrorCountRow, Store } from '../store/types.ts';
import { mulberry32 } from '../test/support/random.ts';

// ---------------------------------------------------------------------------------------------
// The latency model and synthetic histograms (also used by bench/hq-merge.ts's simulated turrets).

/** A shifted log-normal with a slow tail: what HTTP run() times look like. Seconds. */
export interface LatencyModel {
  shift: number;
  median: number;
  sigma: number;
  /** Share of values from the slow component (same shift). */
  slowShare: number;
  slowMedian: number;
  slowSigma: number;
}

export const RUN_TIME_MODEL: LatencyModel = { shift: 0.02, median: 0.015, sigma: 0.6, slowShare: 0.005, slowMedian: 0.3, slowSigma: 0.5 };
/** A timer around part of run(): 0.6 × its time. */
export const PART_TIMER_MODEL: LatencyModel = { shift: 0.012, median: 0.009, sigma: 0.6, slowShare: 0.005, slowMedian: 0.18, slowSigma: 0.5 };
export const LOGIN_TIMER_MODEL: LatencyModel = { shift: 0.002, median: 0.004, sigma: 0.8, slowShare: 0.002, slowMedian: 0.05, slowSigma: 0.6 };

export const ERROR_SHARE = 0.01;
export const ERROR_MESSAGES = ['HTTP 500', 'HTTP 502', 'HTTP 503', 'ECONNRESET'];

/** The model slowed by `f` (a second's drift, a turret's distance). */
export function scaled(m: LatencyModel, f: number): LatencyModel {
  return { ...m, shift: m.shift * f, median: m.median * f, slowMedian: m.slowMedian * f };
}

/** Drift of the latency over a run: ±15% over 10 minutes, turrets a few % apart, ±2.5% jitter. */
export function drift(turret: number, second: number, rnd: () => number): number {
  return (1 + 0.15 * Math.sin((2 * Math.PI * second) / 600)) * (1 + 0.04 * turret) * (1 + 0.05 * (rnd() - 0.5));
}

// Numerical Recipes' erfc (fractional error < 1.2e-7 everywhere).
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

function logNormalCdf(x: number, median: number, sigma: number): number {
  return x <= 0 ? 0 : 0.5 * erfc(-Math.log(x / median) / (sigma * Math.SQRT2));
}

function cdf(m: LatencyModel, seconds: number): number {
  const x = seconds - m.shift;
  return (1 - m.slowShare) * logNormalCdf(x, m.median, m.sigma) + m.slowShare * logNormalCdf(x, m.slowMedian, m.slowSigma);
}

function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** One value drawn from the model, seconds. */
export function sample(m: LatencyModel, rnd: () => number): number {
  const slow = rnd() < m.slowShare;
  return m.shift + (slow ? m.slowMedian : m.median) * Math.exp((slow ? m.slowSigma : m.sigma) * gaussian(rnd));
}

export function poisson(lambda: number, rnd: () => number): number {
  if (lambda <= 0) return 0;
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gaussian(rnd)));
  const limit = Math.exp(-lambda);
  let k = 0;
  let p = rnd();
  while (p > limit) {
    k++;
    p *= rnd();
  }
  return k;
}

export function binomial(n: number, p: number, rnd: () => number): number {
  if (n < 40) {
    let k = 0;
    for (let i = 0; i < n; i++) if (rnd() < p) k++;
    return k;
  }
  return Math.min(n, Math.max(0, Math.round(n * p + Math.sqrt(n * p * (1 - p)) * gaussian(rnd))));
}

/** Moments of a bucket list as a histogram of those counts would have them (values at bucket midpoints). */
export function histogramOf(b: number[]): EncodedHistogram {
  let n = 0;
  let sum = 0;
  for (let k = 0; k < b.length; k += 2) {
    const { low, width } = bucketBounds(b[k]!);
    n += b[k + 1]!;
    sum += b[k + 1]! * ((low + (width - 1) / 2) / 1e6);
  }
  if (n === 0) return { n: 0, min: 0, max: 0, mean: 0, m2: 0, b: [] };
  const mean = sum / n;
  let m2 = 0;
  for (let k = 0; k < b.length; k += 2) {
    const { low, width } = bucketBounds(b[k]!);
    const d = (low + (width - 1) / 2) / 1e6 - mean;
    m2 += b[k + 1]! * (d * d + (width / 1e6) ** 2 / 12);
  }
  const first = bucketBounds(b[0]!);
  const last = bucketBounds(b[b.length - 2]!);
  const min = (first.low + Math.floor(first.width / 4)) / 1e6;
  const max = (last.low + Math.floor((3 * last.width) / 4)) / 1e6;
  return { n, min, max, mean: Math.min(max, Math.max(min, mean)), m2, b };
}

/**
 * The histogram of `n` values drawn from the model, without drawing them: each bucket's count is
 * Poisson around n × its probability, the total then set to exactly n on the fullest bucket. Its
 * non-empty buckets are as many as recording n values would give (checked by `checkGenerator`).
 */
export function syntheticHistogram(n: number, m: LatencyModel, rnd: () => number): EncodedHistogram {
  const counts: number[] = [];
  let i = bucketOf(toMicros(m.shift));
  const start = i;
  let below = cdf(m, bucketBounds(i).low / 1e6);
  let total = 0;
  let top = 0;
  for (; i < HISTOGRAM_BUCKETS; i++) {
    const { low, width } = bucketBounds(i);
    const upTo = cdf(m, (low + width) / 1e6);
    const c = poisson(n * (upTo - below), rnd);
    counts.push(c);
    total += c;
    if (c > counts[top]!) top = counts.length - 1;
    below = upTo;
    if ((1 - upTo) * n < 0.01 && total > 0) break;
  }
  counts[top] = counts[top]! + (n - total);
  for (let k = 0; counts[top]! < 0 && k < counts.length; k++) {
    // Far too many drawn (tiny n): take the excess from the other buckets.
    const take = Math.min(counts[k]!, -counts[top]!);
    if (k !== top) {
      counts[k] = counts[k]! - take;
      counts[top] = counts[top]! + take;
    }
  }
  const b: number[] = [];
  for (let k = 0; k < counts.length; k++) if (counts[k]! > 0) b.push(start + k, counts[k]!);
  return histogramOf(b);
}

/** Cuts a histogram in two by thinning each bucket (share `p` to the first): a second split by a flush. */
export function splitHistogram(h: EncodedHistogram, p: number, rnd: () => number): [EncodedHistogram, EncodedHistogram] {
  const a: number[] = [];
  const c: number[] = [];
  for (let k = 0; k < h.b.length; k += 2) {
    const x = binomial(h.b[k + 1]!, p, rnd);
    if (x > 0) a.push(h.b[k]!, x);
    if (h.b[k + 1]! - x > 0) c.push(h.b[k]!, h.b[k + 1]! - x);
  }
  return [histogramOf(a), histogramOf(c)];
}

/** Failed transactions of a second by message: Poisson around the share, split evenly at random. */
export function errorSplit(n: number, rnd: () => number): [string, number][] {
  let left = Math.min(n, poisson(n * ERROR_SHARE, rnd));
  const out: [string, number][] = [];
  for (let k = 0; k < ERROR_MESSAGES.length; k++) {
    const c = k === ERROR_MESSAGES.length - 1 ? left : binomial(left, 1 / (ERROR_MESSAGES.length - k), rnd);
    left -= c;
    if (c > 0) out.push([ERROR_MESSAGES[k]!, c]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The runs.

const TURRETS = 4;
const SECONDS = 2_000;
export const TIMERS = ['Example_Timer', 'Login'] as const;
const MODELS = [RUN_TIME_MODEL, PART_TIMER_MODEL, LOGIN_TIMER_MODEL];
const SERIES = [ALL_TRANSACTIONS_SERIES, ...TIMERS];
const CONFIG = {
  run_time: SECONDS,
  results_ts_interval: 10,
  thresholds: { p95: '<500ms', error_rate: '<2%', Example_Timer: { p99: '<1s' }, p99: '<2s over 30s' },
};
/** Seconds of all turrets per writeAggregates call: ~1,200 rows, what 100 turrets × 4 series × ~3 pieces flush at once. */
const WRITE_SECONDS = 50;

const turretUuid = (t: number) => `00000000-0000-4000-8000-00000000000${t}`;
const turretName = (t: number) => `turret-${t}`;

const RUN_START = new Date(Date.UTC(2026, 0, 1));

async function createRun(store: Store, name: string): Promise<{ id: number; start: Date }> {
  const run = await store.createRun({ name, config: CONFIG, hqId: null });
  const start = RUN_START;
  await store.updateRun(run.id, { state: 'finished', startedAt: start, endedAt: new Date(start.getTime() + (SECONDS + 1) * 1000) });
  for (let t = 0; t < TURRETS; t++) {
    await store.upsertTurret(run.id, {
      uuid: turretUuid(t),
      name: turretName(t),
      canons: 50,
      rampup: 0,
      script: 'scripts/get.ts',
      state: 'ready',
      firstSeen: start,
      lastSeen: new Date(start.getTime() + SECONDS * 1000),
    });
  }
  return { id: run.id, start };
}

interface Written {
  runId: number;
  results: number;
  aggregateRows: number;
  errorRows: number;
  /** Rows (aggregates + error counts) per second of writeAggregates. */
  writeRowsPerSecond: number;
  writeSeconds: number;
  /** Bucket pairs per aggregate row (the delta's non-empty buckets), mean. */
  bucketsPerRow: number;
  /** Bytes the rows added to the aggregates table and to error_counts (with their indexes). */
  aggregateBytes: number;
  errorBytes: number;
  rawRowsPerSecond?: number;
  /** Bytes on disk per stored result row (results table with its indexes), raw runs only. */
  resultsBytesPerRow?: number;
}

async function tableBytes(store: Store): Promise<{ aggregates: number; errors: number }> {
  const [r] = await store.sql.query<{ a: string; e: string }>(
    `SELECT pg_total_relation_size('aggregates')::text AS a, pg_total_relation_size('error_counts')::text AS e`,
  );
  return { aggregates: Number(r!.a), errors: Number(r!.e) };
}

async function writeInParts(store: Store, runId: number, rows: AggregateRow[], errors: ErrorCountRow[]): Promise<number> {
  // Rows come ordered by second; each call takes WRITE_SECONDS seconds of every turret.
  const t0 = performance.now();
  let i = 0;
  let j = 0;
  for (let until = WRITE_SECONDS; i < rows.length || j < errors.length; until += WRITE_SECONDS) {
    const i0 = i;
    const j0 = j;
    while (i < rows.length && rows[i]!.second < until) i++;
    while (j < errors.length && errors[j]!.second < until) j++;
    await store.writeAggregates(runId, rows.slice(i0, i), errors.slice(j0, j));
  }
  return (performance.now() - t0) / 1000;
}

/** A run's data, generated once and written to each store. */
interface RunData {
  name: string;
  results: number;
  rows: AggregateRow[];
  errors: ErrorCountRow[];
  /** Single results (raw runs only), per turret, in batches. */
  batches: ResultBatch[];
}

/** Per-second deltas generated from the model: `perTurretSecond` transactions each, in 2 pieces. */
function syntheticRun(name: string, perTurretSecond: number, seed: number): RunData {
  const rnd = mulberry32(seed);
  const rows: AggregateRow[] = [];
  const errors: ErrorCountRow[] = [];
  for (let s = 0; s < SECONDS; s++) {
    for (let t = 0; t < TURRETS; t++) {
      const f = drift(t, s, rnd);
      const errs = errorSplit(perTurretSecond, rnd);
      // The flush timer falls at a fixed phase of each turret's seconds; the first piece is the
      // second's head (in the message that also carries the previous second's tail).
      const phase = 0.3 + 0.1 * t;
      const head = errs.map(([m, c]) => [m, binomial(c, phase, rnd)] as [string, number]);
      const tail = errs.map(([m, c], k) => [m, c - head[k]![1]] as [string, number]);
      const pieces = MODELS.map((m) => splitHistogram(syntheticHistogram(perTurretSecond, scaled(m, f), rnd), phase, rnd));
      for (const [piece, pieceErrors] of [
        [0, head],
        [1, tail],
      ] as const) {
        const failed = pieceErrors.reduce((a, [, c]) => a + c, 0);
        SERIES.forEach((series, k) => {
          const hist = pieces[k]![piece];
          if (hist.n > 0) rows.push({ second: s, turretUuid: turretUuid(t), turretName: turretName(t), series, errors: Math.min(failed, hist.n), hist });
        });
        for (const [message, count] of pieceErrors)
          if (count > 0) errors.push({ second: s, turretUuid: turretUuid(t), turretName: turretName(t), message, count });
      }
    }
  }
  const results = rows.filter((r) => r.series === ALL_TRANSACTIONS_SERIES).reduce((a, r) => a + r.hist.n, 0);
  return { name, results, rows, errors, batches: [] };
}

/** Single results drawn from the model, with the aggregates the real DeltaBuilder makes of them (flushed once a second, as a turret does). */
function rawRun(name: string, total: number, seed: number): RunData {
  const rnd = mulberry32(seed);
  const start = RUN_START.getTime() / 1000;
  const perTurret = total / TURRETS;
  const rows: AggregateRow[] = [];
  const errors: ErrorCountRow[] = [];
  const batches: ResultBatch[] = [];
  for (let t = 0; t < TURRETS; t++) {
    const deltas = new DeltaBuilder();
    const toRows = (taken: SecondDelta[]) => {
      for (const d of taken) {
        for (const sd of d.series)
          rows.push({ second: d.second, turretUuid: turretUuid(t), turretName: turretName(t), series: sd.name, errors: sd.errors, hist: sd.hist });
        for (const [message, count] of d.errors) errors.push({ second: d.second, turretUuid: turretUuid(t), turretName: turretName(t), message, count });
      }
    };
    let nextFlush = 0.3 + 0.1 * t;
    let b = new ResultBatchBuilder();
    let f = drift(t, 0, rnd);
    let fSecond = 0;
    for (let i = 0; i < perTurret; i++) {
      const elapsed = ((i + rnd()) / perTurret) * SECONDS;
      if (elapsed >= nextFlush) {
        toRows(deltas.take());
        nextFlush += 1;
      }
      if (Math.floor(elapsed) !== fSecond) {
        fSecond = Math.floor(elapsed);
        f = drift(t, fSecond, rnd);
      }
      const failed = rnd() < ERROR_SHARE;
      const scriptrunTime = sample(scaled(RUN_TIME_MODEL, f), rnd);
      const row = {
        elapsed,
        epoch: start + elapsed,
        scriptrunTime,
        error: failed ? ERROR_MESSAGES[Math.floor(rnd() * ERROR_MESSAGES.length)]! : null,
        customTimers: { Example_Timer: scriptrunTime * 0.6, Login: sample(scaled(LOGIN_TIMER_MODEL, f), rnd) },
      };
      deltas.record(row.elapsed, row.scriptrunTime, row.error, row.customTimers);
      b.add(row);
      if (b.count === 50_000) {
        batches.push(b.build({ turretUuid: turretUuid(t), turretName: turretName(t), seq: null }));
        b = new ResultBatchBuilder();
      }
    }
    if (b.count) batches.push(b.build({ turretUuid: turretUuid(t), turretName: turretName(t), seq: null }));
    toRows(deltas.take());
  }
  // As the HQ stores them: every turret's deltas of a flush together, so ordered by second.
  rows.sort((x, y) => x.second - y.second);
  errors.sort((x, y) => x.second - y.second);
  return { name, results: total, rows, errors, batches };
}

async function writeRun(store: Store, data: RunData): Promise<Written> {
  const { id } = await createRun(store, data.name);
  let rawRowsPerSecond: number | undefined;
  let resultsBytesPerRow: number | undefined;
  if (data.batches.length) {
    const resultsBytes = async () => Number((await store.sql.query<{ b: string }>(`SELECT pg_total_relation_size('results')::text AS b`))[0]!.b);
    const before = await resultsBytes();
    const t0 = performance.now();
    for (const batch of data.batches) await store.writeResults(id, [batch]);
    rawRowsPerSecond = data.results / ((performance.now() - t0) / 1000);
    await store.sql.query('ANALYZE results');
    resultsBytesPerRow = ((await resultsBytes()) - before) / data.results;
  }
  const before = await tableBytes(store);
  const seconds = await writeInParts(store, id, data.rows, data.errors);
  const bytes = await tableBytes(store);
  return {
    runId: id,
    results: data.results,
    aggregateRows: data.rows.length,
    errorRows: data.errors.length,
    writeRowsPerSecond: (data.rows.length + data.errors.length) / seconds,
    writeSeconds: seconds,
    bucketsPerRow: data.rows.reduce((a, r) => a + r.hist.b.length / 2, 0) / data.rows.length,
    aggregateBytes: bytes.aggregates - before.aggregates,
    errorBytes: bytes.errors - before.errors,
    rawRowsPerSecond,
    resultsBytesPerRow,
  };
}

/**
 * The generator against the real thing: non-empty buckets of one turret-second of `n` values
 * recorded one by one through DeltaBuilder, and of the synthetic histogram for the same n.
 */
export function checkGenerator(n: number, seed = 7): { recorded: number; synthetic: number } {
  const rnd = mulberry32(seed);
  const d = new DeltaBuilder();
  for (let i = 0; i < n; i++) d.record(0.5, sample(RUN_TIME_MODEL, rnd), null, null);
  const recorded = d.take()[0]!.series[0]!.hist.b.length / 2;
  const synthetic = syntheticHistogram(n, RUN_TIME_MODEL, rnd).b.length / 2;
  return { recorded, synthetic };
}

// ---------------------------------------------------------------------------------------------
// The report, in a fresh process.

export interface ReportTiming extends Omit<ChildResult, 'transactions'> {
  store: 'embedded' | 'postgres';
  run: string;
  exact: boolean;
  results: number;
  aggregateRows: number;
  errorRows: number;
}

interface ChildResult {
  transactions: number;
  /** The first generateReport of the process (cold JIT and caches: what `oct report` pays), s. */
  coldSeconds: number;
  /** Median of the repeats after it, s (NaN with one repeat). */
  warmSeconds: number;
  /** Read + statistics only, median of `repeat` (readAggregates + turretInfo + statsFromAggregates, or computeStats), s. */
  readStatsSeconds: number;
  readSeconds: number;
  statsSeconds: number;
  /** The windowed threshold ("p99 <2s over 30s") judged over the stored seconds (report/window-thresholds.ts), s. */
  windowsSeconds: number;
  peakRssMb: number;
  rssBeforeMb: number;
  htmlBytes: number;
  /** What the report says, to compare the two methods. */
  p95: number | null;
  p99: number | null;
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : Number.NaN);

async function reportChild(where: string, runId: number, outDir: string, exact: boolean, repeat: number): Promise<void> {
  const log = memoryLogger('warn');
  const store = await openStore(where.startsWith('postgres') ? { databaseUrl: where, log } : { embeddedDir: where, log });
  try {
    const run = (await store.getRun(runId))!;
    const config = run.config as typeof CONFIG;
    const rssBeforeMb = process.memoryUsage().rss / 1e6;
    const times: number[] = [];
    let report: Awaited<ReturnType<typeof generateReport>> | null = null;
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      report = await generateReport({ store, runId, outDir, config, log, exact, saveArtifact: true });
      times.push((performance.now() - t) / 1000);
    }
    const reads: number[] = [];
    const stats: number[] = [];
    const windows: number[] = [];
    const opts = { runId, interval: config.results_ts_interval, runTime: config.run_time, startedAt: run.startedAt, endedAt: run.endedAt };
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      if (exact) {
        await computeStats(store.sql, opts);
        reads.push(0);
        stats.push((performance.now() - t0) / 1000);
      } else {
        const aggregates = await store.readAggregates(runId);
        const turrets = await turretInfo(store.sql, runId, run.startedAt);
        const t1 = performance.now();
        statsFromAggregates({ ...aggregates, turrets }, opts);
        reads.push((t1 - t0) / 1000);
        stats.push((performance.now() - t1) / 1000);
        const t2 = performance.now();
        judgeWindows(parseThresholds(config.thresholds), aggregates.rows);
        windows.push((performance.now() - t2) / 1000);
      }
    }
    const all = report!.summary as unknown as { totals: { transactions: number } };
    const overall = (report!.summary as unknown as { series?: { name: string; overall?: { p95: number | null; p99: number | null } }[] }).series?.find(
      (s) => s.name === ALL_TRANSACTIONS_SERIES,
    )?.overall;
    const out: ChildResult = {
      transactions: all.totals.transactions,
      coldSeconds: times[0]!,
      warmSeconds: median(times.slice(1)),
      readStatsSeconds: median(reads.map((r, i) => r + stats[i]!)),
      readSeconds: median(reads),
      statsSeconds: median(stats),
      windowsSeconds: median(windows),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      rssBeforeMb,
      htmlBytes: statSync(report!.htmlPath).size,
      p95: overall?.p95 ?? null,
      p99: overall?.p99 ?? null,
    };
    console.log(JSON.stringify(out));
  } finally {
    await store.close();
  }
}

function runChild(where: string, runId: number, exact: boolean, repeat: number): Promise<ChildResult> {
  const out = mkdtempSync(join(tmpdir(), 'oct-bench-agg-report-'));
  // OCT_BENCH_CPU_PROF=DIR: a CPU profile of each report process.
  const prof = process.env.OCT_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OCT_BENCH_CPU_PROF}`] : [];
  const args = [
    ...prof,
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--report-run',
    String(runId),
    '--where',
    where,
    '--out',
    out,
    '--repeat',
    String(repeat),
  ];
  if (exact) args.push('--exact');
  return new Promise<ChildResult>((resolve, reject) =>
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      rmSync(out, { recursive: true, force: true });
      if (err) reject(new Error(`report process failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    }),
  );
}

export interface StoreReportBench {
  store: 'embedded' | 'postgres';
  written: Record<'agg100M' | 'agg1M' | 'raw1M', Written>;
  reports: ReportTiming[];
}

export interface BenchData {
  agg100M: RunData;
  agg1M: RunData;
  raw1M: RunData;
  generateSeconds: number;
}

/** The three runs' data, generated once for both stores. */
export function generateBenchData(): BenchData {
  const t0 = performance.now();
  const agg100M = syntheticRun('agg-100M', 12_500, 100);
  const agg1M = syntheticRun('agg-1M', 125, 1);
  const raw1M = rawRun('raw-1M', 1_000_000, 2);
  return { agg100M, agg1M, raw1M, generateSeconds: (performance.now() - t0) / 1000 };
}

export async function benchReportAggregatesOn(
  where: { url: string } | { embeddedDir: string },
  data: BenchData,
  opts: { repeat?: number; log?: (line: string) => void } = {},
): Promise<StoreReportBench> {
  const repeat = opts.repeat ?? 3;
  const say = opts.log ?? (() => undefined);
  const log = memoryLogger('warn');
  const kind = 'url' in where ? 'postgres' : 'embedded';
  const store = await openStore('url' in where ? { databaseUrl: where.url, log } : { embeddedDir: where.embeddedDir, log });
  let written: StoreReportBench['written'];
  try {
    const agg100M = await writeRun(store, data.agg100M);
    const agg1M = await writeRun(store, data.agg1M);
    const raw1M = await writeRun(store, data.raw1M);
    say(`  ${kind}: written (writeAggregates of agg-100M ${agg100M.writeSeconds.toFixed(1)} s; raw-1M rows at ${Math.round(raw1M.rawRowsPerSecond ?? 0)}/s)`);
    written = { agg100M, agg1M, raw1M };
  } finally {
    await store.close(); // the embedded directory can be open in one process only
  }
  const target = 'url' in where ? where.url : where.embeddedDir;
  const reports: ReportTiming[] = [];
  const plan: [string, Written, boolean][] = [
    ['agg-1M', written.agg1M, false],
    ['agg-100M', written.agg100M, false],
    ['raw-1M', written.raw1M, false],
    ['raw-1M', written.raw1M, true],
  ];
  for (const [run, w, exact] of plan) {
    const r = await runChild(target, w.runId, exact, exact ? 1 : repeat);
    if (r.transactions !== w.results) throw new Error(`${kind} ${run}: the report counted ${r.transactions}, ${w.results} were written`);
    reports.push({ store: kind, run, exact, results: w.results, aggregateRows: w.aggregateRows, errorRows: w.errorRows, ...r });
    say(`  ${kind}: ${run}${exact ? ' exact' : ''}: ${r.coldSeconds.toFixed(2)} s`);
  }
  return { store: kind, written, reports };
}

export async function benchReportAggregates(opts: {
  url?: string;
  embedded?: boolean;
  repeat?: number;
  log?: (line: string) => void;
}): Promise<{ generateSeconds: number; stores: StoreReportBench[] }> {
  const data = generateBenchData();
  opts.log?.(`  generated the runs' data in ${data.generateSeconds.toFixed(1)} s`);
  const stores: StoreReportBench[] = [];
  if (opts.embedded ?? true) {
    const dir = mkdtempSync(join(tmpdir(), 'oct-bench-agg-pglite-'));
    try {
      stores.push(await benchReportAggregatesOn({ embeddedDir: join(dir, 'db') }, data, opts));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (opts.url) stores.push(await benchReportAggregatesOn({ url: opts.url }, data, opts));
  return { generateSeconds: data.generateSeconds, stores };
}

const fmtS = (x: number | null) => (x === null || Number.isNaN(x) ? '–' : `${x.toFixed(2)} s`);
const ms = (x: number | null) => (x === null ? '–' : `${(x * 1000).toFixed(1)} ms`);

export function formatReportAggregates(results: StoreReportBench[]): string {
  const lines = [
    '| store | run | results | stored deltas (rows + error rows) | method | generateReport, cold | warm (median) | read + stats (read / stats) | windowed threshold | peak RSS | p95 / p99 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of results) {
    for (const r of s.reports) {
      lines.push(
        `| ${s.store} | ${r.run} | ${r.results.toLocaleString('en-US')} | ${r.aggregateRows.toLocaleString('en-US')} + ${r.errorRows.toLocaleString('en-US')} | ${r.exact ? 'exact (SQL over rows)' : 'aggregates'} | **${fmtS(r.coldSeconds)}** | ${fmtS(r.warmSeconds)} | ${fmtS(r.readStatsSeconds)} (${r.exact ? '–' : `${fmtS(r.readSeconds)} / ${fmtS(r.statsSeconds)}`}) | ${r.exact ? '–' : fmtS(r.windowsSeconds)} | ${r.peakRssMb.toFixed(0)} MB | ${ms(r.p95)} / ${ms(r.p99)} |`,
      );
    }
  }
  lines.push(
    '',
    '| store | run | writeAggregates, rows + error rows per s (50 s of all turrets per call) | bucket pairs per row | bytes on disk per aggregate row / per error row | raw rows/s (writeResults), bytes on disk per row |',
    '|---|---|---|---|---|---|',
  );
  for (const s of results) {
    for (const [name, w] of Object.entries(s.written)) {
      lines.push(
        `| ${s.store} | ${name} | ${Math.round(w.writeRowsPerSecond).toLocaleString('en-US')} (${w.writeSeconds.toFixed(2)} s) | ${w.bucketsPerRow.toFixed(0)} | ${Math.round(w.aggregateBytes / w.aggregateRows)} / ${Math.round(w.errorBytes / Math.max(1, w.errorRows))} | ${w.rawRowsPerSecond ? `${Math.round(w.rawRowsPerSecond).toLocaleString('en-US')}, ${Math.round(w.resultsBytesPerRow ?? 0)}` : '–'} |`,
      );
    }
  }
  return lines.join('\n');
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const isMain = import.meta.url === pathToFileURL(process.argv[1] ?? '').href;

if (isMain && arg('--report-run')) {
  await reportChild(arg('--where')!, Number(arg('--report-run')), arg('--out')!, process.argv.includes('--exact'), Number(arg('--repeat') ?? 1));
} else if (isMain) {
  const t0 = performance.now();
  let url = arg('--url') ?? process.env.OCT_BENCH_DATABASE_URL;
  let stop: (() => void) | undefined;
  if (!url && !process.argv.includes('--no-postgres')) {
    // @ts-expect-error plain ESM helper shared with the test runner script
    const { startCluster } = await import('../scripts/pg-cluster.mjs');
    const cluster = (await startCluster()) as { url: string; stop(): void };
    url = cluster.url;
    stop = () => cluster.stop();
  }
  try {
    for (const n of [125, 12_500]) {
      const g = checkGenerator(n);
      console.log(`generator check, one turret-second of ${n}: non-empty buckets recorded ${g.recorded}, synthetic ${g.synthetic}`);
    }
    const r = await benchReportAggregates({
      url: process.argv.includes('--no-postgres') ? undefined : url,
      embedded: !process.argv.includes('--no-embedded'),
      repeat: arg('--repeat') ? Number(arg('--repeat')) : undefined,
      log: (line) => console.log(line),
    });
    console.log(JSON.stringify(r.stores));
    console.log(formatReportAggregates(r.stores));
    console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s in all)`);
  } finally {
    stop?.();
  }
}
