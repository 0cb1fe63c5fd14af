// Statistics of one run, computed by the database (the queries are store/latency-passes.ts and
// store/report-queries.ts; the folding and percentile arithmetic are here): Node only ever receives
// aggregated rows (one per series × interval bin, per histogram bucket, per error message, per
// turret), so memory does not grow with the number of results. Percentiles are exact: the linear
// interpolation between closest ranks of percentile_cont (and of numpy, as the original), found
// without sorting every point. Latencies are seconds, as stored.
//
// How (1,000,000 results with one custom timer: ~2.5–3.5 s, was ~8.6 s; BENCHMARKS.md), all
// concurrently on separate connections where the driver has them (PGlite runs them in turn):
//  - run() times: one hash aggregate gives moments and counts per bin × fine latency bucket and per
//    turret × bucket; then one query sorts only the points of the buckets that hold the ranks the
//    percentiles need, and returns the values at those ranks (pass 2).
//  - custom timers: the names from a sample of results, then the same aggregate over the timers
//    (jsonb read once), which also checks that no result has a timer the sample missed (if one does,
//    the names are read in full and the aggregate runs again); then pass 2 (jsonb read again).
//  - errors by message (with the distinct count), turrets and status changes: small.
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import {
  allTimerNames,
  type BucketMoments,
  bucketMoments,
  latencyBucketEdge,
  type Points,
  type RankLookups,
  sampledTimerNames,
  valuesAtRanks,
} from '../store/latency-passes.ts';
import { errorGroups, type TurretTimesRow } from '../store/report-queries.ts';
import { turretInfo } from './turret-info.ts';
import type { SqlDriver } from '../store/types.ts';

export const PERCENTILES = [0.5, 0.8, 0.9, 0.95, 0.99] as const;
const ERROR_MESSAGES_LIMIT = 100;

export interface LatencyStats {
  count: number;
  errors: number;
  /** Latency figures are null when count is 0 (an empty bin), never a misleading 0. */
  min: number | null;
  mean: number | null;
  /** Population standard deviation, as the original (numpy.std). */
  stdev: number | null;
  p50: number | null;
  p80: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  /** Transactions per second: count divided by the seconds covered. */
  throughput: number;
}

export interface BinStats extends LatencyStats {
  index: number;
  /** Bin bounds in seconds since the start of the test; `end` is cut at the end of the test. */
  start: number;
  end: number;
}

export interface HistogramBucket {
  /** Lower and upper bound, seconds (log-spaced buckets). */
  from: number;
  to: number;
  count: number;
}

export interface SeriesStats {
  name: string;
  /** True for "All transactions" (run() time); false for a custom timer. */
  total: boolean;
  overall: LatencyStats;
  bins: BinStats[];
  histogram: HistogramBucket[];
}

export interface ErrorGroup {
  message: string;
  count: number;
  firstElapsed: number;
  lastElapsed: number;
  turrets: number;
}

export interface TurretBreakdown {
  uuid: string | null;
  /** For display: the name, else the uuid (legacy turrets send no name). */
  name: string;
  /** The stored name, null when the turret sent none. */
  rawName: string | null;
  count: number;
  errors: number;
  min: number | null;
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  throughput: number;
  firstElapsed: number | null;
  lastElapsed: number | null;
}

export interface TurretStatusChange {
  status: string;
  rawStatus: string;
  reason: string | null;
  /** Unix time, seconds. */
  at: number;
  /** Seconds since the start of the test, when the start is known. */
  elapsed: number | null;
}

export interface TurretInfo extends TurretTimesRow {
  changes: TurretStatusChange[];
}

export interface RunStats {
  runId: number;
  interval: number;
  /** Seconds the bins and rates cover: the planned run time, or longer if results came later. */
  duration: number;
  firstElapsed: number | null;
  lastElapsed: number | null;
  series: SeriesStats[];
  errorsByMessage: ErrorGroup[];
  /** Distinct error messages, including those beyond the listed ones. */
  distinctErrors: number;
  turretBreakdown: TurretBreakdown[];
  turrets: TurretInfo[];
  percentileMethod: 'exact (linear interpolation between closest ranks, as percentile_cont)' | 'histogram (value at rank ceil(p·n), within 0.4%)';
}

export interface StatsOptions {
  runId: number;
  /** results_ts_interval, seconds. */
  interval: number;
  /** The configured run_time, seconds. */
  runTime: number;
  /** When the run started and ended, to place status changes and to notice a cut-short run. */
  startedAt?: Date | null;
  endedAt?: Date | null;
}

// The latency distribution merges neighbours of the fine buckets that drive the percentile search
// (store/latency-passes.ts) into about this many bars.
const DISPLAY_BUCKETS = 40;

/** Count, errors, extremes, mean and sum of squared deviations of a group of points. */
interface Acc {
  n: number;
  errs: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
}

function merge(a: Acc | undefined, b: Acc): Acc {
  if (!a) return { ...b };
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  return {
    n,
    errs: a.errs + b.errs,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    mean: a.mean + (delta * b.n) / n,
    m2: a.m2 + b.m2 + (delta * delta * a.n * b.n) / n,
  };
}

// percentile_cont's own arithmetic (orderedsetaggs.c), so values match the database's bit for bit.
function interpolate(n: number, p: number, at: (rank: number) => number | undefined): number | null {
  if (n === 0) return null;
  const pos = p * (n - 1);
  const first = Math.floor(pos);
  const lo = at(first + 1);
  if (lo === undefined) return null;
  if (first === pos) return lo;
  const hi = at(first + 2);
  return hi === undefined ? null : lo + (hi - lo) * (pos - first);
}

function neededRanks(n: number): number[] {
  const ranks = new Set<number>();
  for (const p of PERCENTILES) {
    const pos = p * (n - 1);
    ranks.add(Math.floor(pos) + 1);
    ranks.add(Math.ceil(pos) + 1);
  }
  return [...ranks];
}

function emptyLatency(): LatencyStats {
  return { count: 0, errors: 0, min: null, mean: null, stdev: null, p50: null, p80: null, p90: null, p95: null, p99: null, max: null, throughput: 0 };
}

function fill(m: Acc | undefined, seconds: number, at: (rank: number) => number | undefined): LatencyStats {
  if (!m || m.n === 0) return emptyLatency();
  const n = m.n;
  const [p50, p80, p90, p95, p99] = PERCENTILES.map((p) => interpolate(n, p, at));
  return {
    count: n,
    errors: m.errs,
    min: m.min,
    mean: m.mean,
    stdev: Math.sqrt(Math.max(0, m.m2 / n)),
    p50: p50!,
    p80: p80!,
    p90: p90!,
    p95: p95!,
    p99: p99!,
    max: m.max,
    throughput: seconds > 0 ? n / seconds : 0,
  };
}

function displayHistogram(counts: Map<number, number>): HistogramBucket[] {
  if (!counts.size) return [];
  const keys = [...counts.keys()];
  const lo = Math.min(...keys);
  const hi = Math.max(...keys);
  const merge = Math.max(1, Math.ceil((hi - lo + 1) / DISPLAY_BUCKETS));
  const out: HistogramBucket[] = [];
  for (let start = lo; start <= hi; start += merge) {
    let count = 0;
    for (let bucket = start; bucket < start + merge; bucket++) count += counts.get(bucket) ?? 0;
    out.push({ from: latencyBucketEdge(start), to: latencyBucketEdge(start + merge), count });
  }
  return out;
}

/** Ranks to look up: each as (group, bucket, offset in the bucket), and the keys that want it. */
class RankRequests implements RankLookups {
  readonly groupKind: number[] = [];
  readonly series: number[] = [];
  readonly bin: number[] = [];
  readonly bucket: number[] = [];
  readonly offset: number[] = [];
  readonly turretUuid: (string | null)[] = [];
  readonly turretName: (string | null)[] = [];
  readonly wantedBy: string[][] = [];

  /**
   * The ranks the percentiles of a group of `total` points need, located in its bucket counts.
   * `group` names the group in the answer: rank r is answered under `${group}:${r}`.
   */
  add(
    group: string,
    groupKind: number,
    series: number,
    bin: number,
    turretUuid: string | null,
    turretName: string | null,
    counts: Map<number, number>,
    total: number,
  ): void {
    const order = [...counts.keys()].sort((x, y) => x - y);
    const seen = new Map<string, number>();
    for (const rank of neededRanks(total)) {
      let before = 0;
      for (const bucket of order) {
        const c = counts.get(bucket)!;
        if (rank <= before + c) {
          const at = `${bucket}:${rank - before}`;
          let i = seen.get(at);
          if (i === undefined) {
            i = this.groupKind.length;
            seen.set(at, i);
            this.groupKind.push(groupKind);
            this.series.push(series);
            this.bin.push(bin);
            this.bucket.push(bucket);
            this.offset.push(rank - before);
            this.turretUuid.push(turretUuid);
            this.turretName.push(turretName);
            this.wantedBy.push([]);
          }
          this.wantedBy[i]!.push(`${group}:${rank}`);
          break;
        }
        before += c;
      }
    }
  }

  /** Runs pass 2 over `points`; resolves to rank key → value. */
  async fetch(sql: SqlDriver, runId: number, points: Points, interval: number, bins: number, into: Map<string, number>): Promise<void> {
    if (!this.groupKind.length) return;
    for (const r of await valuesAtRanks(sql, runId, points, interval, bins, this)) for (const key of this.wantedBy[r.lookup] ?? []) into.set(key, r.value);
  }
}

/** Pass 1's rows folded: moments and bucket counts per bin, per series and per turret. */
class Folded {
  readonly perBin = new Map<string, Acc>();
  readonly perSeries = new Map<number, Acc>();
  readonly binBuckets = new Map<string, Map<number, number>>();
  readonly hist = new Map<number, Map<number, number>>();
  readonly perTurret = new Map<string, { uuid: string | null; name: string | null; acc: Acc; first: number; last: number; buckets: Map<number, number> }>();

  constructor(private readonly nBins: number) {}

  add(rows: BucketMoments[]): void {
    for (const m of rows) {
      if (m.bucket === null) continue; // points without a value (checkUnlisted)
      const { series, bucket, count } = m;
      const part: Acc = { n: count, errs: m.errors, min: m.min, max: m.max, mean: m.mean, m2: m.variance * count };
      if (m.grouping === 'bin') {
        const key = `${series}:${Math.min(m.bin!, this.nBins - 1)}`;
        const b = this.binBuckets.get(key) ?? new Map<number, number>();
        b.set(bucket, (b.get(bucket) ?? 0) + count);
        this.binBuckets.set(key, b);
        const h = this.hist.get(series) ?? new Map<number, number>();
        h.set(bucket, (h.get(bucket) ?? 0) + count);
        this.hist.set(series, h);
        this.perBin.set(key, merge(this.perBin.get(key), part));
        this.perSeries.set(series, merge(this.perSeries.get(series), part));
      } else {
        const key = JSON.stringify([m.turretUuid, m.turretName]);
        const cur = this.perTurret.get(key);
        if (!cur) {
          this.perTurret.set(key, {
            uuid: m.turretUuid,
            name: m.turretName,
            acc: part,
            first: m.firstElapsed,
            last: m.lastElapsed,
            buckets: new Map([[bucket, count]]),
          });
        } else {
          cur.acc = merge(cur.acc, part);
          cur.first = Math.min(cur.first, m.firstElapsed);
          cur.last = Math.max(cur.last, m.lastElapsed);
          cur.buckets.set(bucket, (cur.buckets.get(bucket) ?? 0) + count);
        }
      }
    }
  }

  /** Requests the ranks of every bin and series in `series` (and of every turret). */
  request(req: RankRequests, series: number[]): void {
    const wanted = new Set(series);
    for (const [key, m] of this.perBin) {
      const [s, bin] = key.split(':').map(Number) as [number, number];
      if (wanted.has(s)) req.add(`0:${s}:${bin}`, 0, s, bin, null, null, this.binBuckets.get(key)!, m.n);
    }
    for (const [s, m] of this.perSeries) if (wanted.has(s)) req.add(`1:${s}`, 1, s, -1, null, null, this.hist.get(s)!, m.n);
    if (wanted.has(0)) for (const [key, tur] of this.perTurret) req.add(`2:${key}`, 2, 0, -1, tur.uuid, tur.name, tur.buckets, tur.acc.n);
  }
}

/** One turret's line of the breakdown; legacy turrets send no name and are shown by uuid. */
export function turretRow(uuid: string | null, name: string | null, st: LatencyStats, first: number | null, last: number | null): TurretBreakdown {
  return {
    uuid,
    name: name ?? uuid ?? '(unnamed)',
    rawName: name,
    count: st.count,
    errors: st.errors,
    min: st.min,
    mean: st.mean,
    p50: st.p50,
    p95: st.p95,
    p99: st.p99,
    max: st.max,
    throughput: st.throughput,
    firstElapsed: first,
    lastElapsed: last,
  };
}

// Turrets as ORDER BY turret_name NULLS LAST, turret_uuid NULLS LAST would list them (byte order).
export function compareNullsLast(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Pass 1 over the custom timers, with their names in order of first appearance (rows renumbered to
 * that order). Reading every jsonb just for the names costs as much as the aggregate itself, so the
 * names come from a sample and the aggregate checks that no result has another; if one does (a
 * timer that first appears late), the names are read in full and the aggregate runs again.
 */
async function aggregateTimers(sql: SqlDriver, runId: number, interval: number): Promise<{ timers: string[]; rows: BucketMoments[] }> {
  const aggregate = (names: string[], checkUnlisted: boolean) => bucketMoments(sql, runId, { timers: names }, interval, { checkUnlisted });
  let names = await sampledTimerNames(sql, runId);
  let rows = names.length ? await aggregate(names, true) : [];
  if (!names.length || rows.some((m) => m.unlistedTimers > 0)) {
    names = await allTimerNames(sql, runId);
    rows = names.length ? await aggregate(names, false) : [];
  }
  // Order of first appearance (by elapsed, then name); a timer that only ever held null, last.
  const first = names.map(() => Infinity);
  for (const m of rows) if (m.bucket !== null) first[m.series - 1] = Math.min(first[m.series - 1]!, m.firstElapsed);
  const order = names.map((_, i) => i).sort((a, b) => first[a]! - first[b]! || (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  const renumber = new Map(order.map((old, i) => [old + 1, i + 1]));
  for (const m of rows) m.series = renumber.get(m.series)!;
  return { timers: order.map((i) => names[i]!), rows };
}

export async function computeStats(sql: SqlDriver, opts: StatsOptions): Promise<RunStats> {
  const { runId, interval } = opts;
  if (!(interval > 0)) throw new Error(`results_ts_interval must be positive, got ${interval}`);
  const quiet = <T>(p: Promise<T>) => (p.catch(() => undefined), p); // awaited later; no unhandled rejection meanwhile

  // Step 1, concurrently: run() times; custom timers (step 2) once their names are known; errors
  // and turrets.
  const runAggP = quiet(bucketMoments(sql, runId, 'run times', interval));
  const timerAggP = quiet(aggregateTimers(sql, runId, interval));
  const miscP = quiet(Promise.all([errorGroups(sql, runId, ERROR_MESSAGES_LIMIT), turretInfo(sql, runId, opts.startedAt ?? null)]));

  // Every result is a run() time point: the turret groups cover them all, so they give the extent.
  const runAgg = await runAggP;
  let firstElapsed: number | null = null;
  let lastElapsed: number | null = null;
  for (const m of runAgg) {
    if (m.grouping !== 'turret') continue;
    firstElapsed = Math.min(firstElapsed ?? Infinity, m.firstElapsed);
    lastElapsed = Math.max(lastElapsed ?? -Infinity, m.lastElapsed);
  }
  const actual = opts.startedAt && opts.endedAt ? (opts.endedAt.getTime() - opts.startedAt.getTime()) / 1000 : null;
  // A run cut short covers only the time it ran; results that arrive after run_time (in-flight
  // transactions finishing) stretch the last bin rather than vanish.
  const planned = actual !== null && actual > 0 ? Math.min(opts.runTime, actual) : opts.runTime;
  const duration = Math.max(planned, lastElapsed ?? 0, Number.EPSILON);
  const nBins = Math.max(1, Math.ceil(duration / interval - 1e-9));
  const binSeconds = (i: number) => Math.min(interval, duration - i * interval);

  const folded = new Folded(nBins);
  folded.add(runAgg);
  const rankValue = new Map<string, number>();
  // Step 3 for run() times, while the custom timers are still being aggregated.
  const runRanks = new RankRequests();
  folded.request(runRanks, [0]);
  const runRanksP = quiet(runRanks.fetch(sql, runId, 'run times', interval, nBins, rankValue));

  const { timers, rows: timerAgg } = await timerAggP;
  folded.add(timerAgg);
  const timerRanks = new RankRequests();
  folded.request(
    timerRanks,
    timers.map((_, i) => i + 1),
  );
  const timerRanksP = timers.length ? timerRanks.fetch(sql, runId, { timers }, interval, nBins, rankValue) : undefined;

  const [, , [errorRows, turrets]] = await Promise.all([runRanksP, timerRanksP, miscP]);

  const names = [ALL_TRANSACTIONS_SERIES, ...timers];
  const series: SeriesStats[] = names.map((name, s) => {
    const overall = fill(folded.perSeries.get(s), duration, (rank) => rankValue.get(`1:${s}:${rank}`));
    return {
      name,
      total: s === 0,
      overall,
      bins: Array.from({ length: nBins }, (_, i) => ({
        index: i,
        start: i * interval,
        end: i * interval + binSeconds(i),
        ...fill(folded.perBin.get(`${s}:${i}`), binSeconds(i), (rank) => rankValue.get(`0:${s}:${i}:${rank}`)),
      })),
      histogram: displayHistogram(folded.hist.get(s) ?? new Map()),
    };
  });

  const turretBreakdown = [...folded.perTurret.entries()]
    .sort(([, a], [, b]) => compareNullsLast(a.name, b.name) || compareNullsLast(a.uuid, b.uuid))
    .map(
      ([key, tur]): TurretBreakdown =>
        turretRow(
          tur.uuid,
          tur.name,
          fill(tur.acc, duration, (rank) => rankValue.get(`2:${key}:${rank}`)),
          tur.first,
          tur.last,
        ),
    );

  return {
    runId,
    interval,
    duration,
    firstElapsed,
    lastElapsed,
    series,
    errorsByMessage: errorRows.map((r) => ({
      message: r.message,
      count: r.count,
      firstElapsed: r.firstElapsed,
      lastElapsed: r.lastElapsed,
      turrets: r.turrets,
    })),
    distinctErrors: errorRows[0]?.distinctMessages ?? 0,
    turretBreakdown,
    turrets,
    percentileMethod: 'exact (linear interpolation between closest ranks, as percentile_cont)',
  };
}
