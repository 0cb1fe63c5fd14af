// Statistics of one run, computed by the database: Node only ever receives aggregated rows (one per
// series × interval bin, per histogram bucket, per error message, per turret), so memory does not
// grow with the number of results. Percentiles are exact: the linear interpolation between closest
// ranks of percentile_cont (and of numpy, as the original), found without sorting every point.
// Latencies are seconds, as stored.
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
import type { SqlDriver } from '../store/types.ts';
import { analyticQuery } from './analytic-query.ts';

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

export interface TurretInfo {
  uuid: string;
  name: string;
  canons: number | null;
  rampup: number | null;
  script: string | null;
  status: string;
  firstSeen: number;
  lastSeen: number;
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

// Latency buckets: fixed, log-spaced (32 per doubling, ~2.2% wide) from 1 µs, so one hash aggregate
// counts them without knowing the range first. They drive the exact percentile search (narrow
// buckets, few points to sort) and the latency distribution (display merges neighbours).
const HB_PER_OCTAVE = 32;
const HB_FLOOR = 1e-6;
const DISPLAY_BUCKETS = 40;

/** One row of the first pass: the moments of a group of points (see aggregateSql). */
interface Moments {
  /** 0 for a (series, bin, bucket) group, 1 for a (series, turret, bucket) group. */
  g: number;
  s: number;
  bin: number | null;
  hb: number;
  u: string | null;
  t: string | null;
  n: number;
  errs: number;
  vmin: number;
  vmean: number;
  vvar: number;
  vmax: number;
  efirst: number;
  elast: number;
  /** Results with a custom timer the query was not given (see timerPointsSql). */
  extra: number;
}

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

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

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
  const edge = (hb: number) => HB_FLOOR * 2 ** (hb / HB_PER_OCTAVE);
  const out: HistogramBucket[] = [];
  for (let start = lo; start <= hi; start += merge) {
    let count = 0;
    for (let hb = start; hb < start + merge; hb++) count += counts.get(hb) ?? 0;
    out.push({ from: edge(start), to: edge(start + merge), count });
  }
  return out;
}

// Series are numbered: 0 is "All transactions" (run() time), 1..K the custom timers. A points
// source yields (s, elapsed, v, err, u, t): one point per result and series it has a value for;
// u and t (turret uuid and name) only for series 0, the only one broken down per turret.
const RUN_POINTS = `SELECT 0 AS s, elapsed, scriptrun_time AS v, (error IS NOT NULL) AS err, turret_uuid AS u, turret_name AS t,
                           false AS extra
                      FROM results WHERE run_id = $1`;

// Custom timer values are read with ->> per known key, which costs a fraction of expanding every
// object with jsonb_each. One timer: a plain projection (a LATERAL VALUES list costs ~1 µs per
// point more). OFFSET 0 keeps the planner from evaluating ->> twice (in the filter and the output).
// $2, the timer names, is always bound. With `check`, points without a value are kept (as v NULL,
// a group the caller drops) and `extra` says whether a result has a timer not in $2: the names can
// then come from a sample, checked in the same scan instead of found by a scan of their own.
function timerPointsSql(timers: number, check = false): string {
  const cols = `(r.error IS NOT NULL) AS err, NULL::text AS u, NULL::text AS t,
                ${check ? `(r.custom_timers - $2::text[]) <> '{}'::jsonb` : 'false'} AS extra`;
  const from = `FROM results r WHERE r.run_id = $1 AND r.custom_timers IS NOT NULL`;
  if (timers === 1) {
    return `SELECT * FROM (SELECT 1 AS s, r.elapsed, (r.custom_timers->>($2::text[])[1])::float8 AS v, ${cols} ${from} OFFSET 0) p
             ${check ? '' : 'WHERE v IS NOT NULL'}`;
  }
  const values: string[] = [];
  for (let i = 1; i <= timers; i++) values.push(`(${i}, (r.custom_timers->>($2::text[])[${i}])::float8)`);
  return `SELECT p.s, r.elapsed, p.v, ${cols}
            FROM results r CROSS JOIN LATERAL (VALUES ${values.join(', ')}) AS p(s, v)
           WHERE r.run_id = $1 AND r.custom_timers IS NOT NULL${check ? '' : ' AND p.v IS NOT NULL'}`;
}

// NULL for a point without a value (GREATEST alone would put it in the lowest bucket).
const HB_EXPR = `CASE WHEN v IS NOT NULL THEN floor(${HB_PER_OCTAVE} * ln(GREATEST(v, ${HB_FLOOR}) / ${HB_FLOOR}) / ln(2))::int END`;
// The first pass runs before the number of bins is known (it gives the last elapsed), so its bins are
// unclamped (a late result past the end goes to the last bin in JS); the rank pass clamps with $4.
const RAW_BIN = `LEAST(GREATEST(floor(elapsed / $3::float8), 0), 1e9)::int`;
const BIN = `LEAST(GREATEST(floor(elapsed / $3::float8), 0), $4::int - 1)::int`;

// Pass 1, hash aggregates only: moments per series × bin × fine latency bucket (hb), and with
// `turrets` also per series × turret × bucket. The counts per bucket say which bucket holds each
// rank a percentile needs. For both groupings in one scan, the points are first grouped by series ×
// bin × turret × bucket (a hash aggregate: GROUPING SETS would sort every point, the planner
// expecting ~1 group per point), and those groups, few, are merged both ways: the sum of squared
// deviations as Σ m2ᵢ + nᵢ (meanᵢ − mean)², exact and without cancellation.
function aggregateSql(points: string, turrets: boolean): string {
  const moments = `count(*)::float8 AS n, count(*) FILTER (WHERE err)::float8 AS errs,
                   min(v) AS vmin, avg(v) AS vmean, var_pop(v) AS vvar, max(v) AS vmax,
                   min(elapsed) AS efirst, max(elapsed) AS elast, count(*) FILTER (WHERE extra)::float8 AS extra`;
  const rows = `SELECT s, ${RAW_BIN} AS bin, ${HB_EXPR} AS hb, v, err, u, t, elapsed, extra FROM (${points}) p`;
  if (!turrets) return `SELECT 0 AS g, s, bin, hb, NULL::text AS u, NULL::text AS t, ${moments} FROM (${rows}) x GROUP BY s, bin, hb`;
  const merged = (mean: string) => `sum(n)::float8 AS n, sum(errs)::float8 AS errs, min(vmin) AS vmin, min(${mean}) AS vmean,
                   sum(vvar * n + n * (vmean - ${mean}) * (vmean - ${mean})) / sum(n) AS vvar, max(vmax) AS vmax,
                   min(efirst) AS efirst, max(elast) AS elast, 0::float8 AS extra`;
  return `WITH fine AS MATERIALIZED (SELECT s, bin, hb, u, t, ${moments} FROM (${rows}) x GROUP BY s, bin, hb, u, t),
               w AS (SELECT *, sum(n * vmean) OVER (PARTITION BY s, bin, hb) / sum(n) OVER (PARTITION BY s, bin, hb) AS bmean,
                               sum(n * vmean) OVER (PARTITION BY s, u, t, hb) / sum(n) OVER (PARTITION BY s, u, t, hb) AS tmean
                       FROM fine)
          SELECT 0 AS g, s, bin, hb, NULL::text AS u, NULL::text AS t, ${merged('bmean')} FROM w GROUP BY s, bin, hb
          UNION ALL
          SELECT 1, s, NULL, hb, u, t, ${merged('tmean')} FROM w GROUP BY s, u, t, hb`;
}

// Pass 2: the values at the wanted ranks. Only the points of the wanted (series, bucket) pairs are
// kept and sorted, per group: k 0 = series × bin, 1 = whole series, 2 = series × turret.
function ranksSql(points: string): string {
  const agg = `array_agg(v ORDER BY v) AS arr`;
  return `WITH need AS (SELECT * FROM unnest($5::int[], $6::int[], $7::int[], $8::int[], $9::int[], $10::text[], $11::text[])
                          WITH ORDINALITY AS n(k, s, bin, hb, off, u, t, i)),
               cand AS MATERIALIZED (
                 SELECT s, bin, hb, u, t, v FROM (SELECT s, ${BIN} AS bin, ${HB_EXPR} AS hb, u, t, v FROM (${points}) p) x
                  WHERE (s, hb) IN (SELECT s, hb FROM need)),
               g AS (
                 SELECT 0 AS k, s, bin, hb, NULL::text AS u, NULL::text AS t, ${agg}
                   FROM cand WHERE (s, bin, hb) IN (SELECT s, bin, hb FROM need WHERE k = 0) GROUP BY s, bin, hb
                 UNION ALL
                 SELECT 1, s, -1, hb, NULL, NULL, ${agg}
                   FROM cand WHERE (s, hb) IN (SELECT s, hb FROM need WHERE k = 1) GROUP BY s, hb
                 UNION ALL
                 SELECT 2, s, -1, hb, u, t, ${agg}
                   FROM cand WHERE (s, hb) IN (SELECT s, hb FROM need WHERE k = 2) GROUP BY s, u, t, hb)
          SELECT n.i, g.arr[n.off] AS v
            FROM need n JOIN g ON g.k = n.k AND g.s = n.s AND g.bin = n.bin AND g.hb = n.hb
                               AND g.u IS NOT DISTINCT FROM n.u AND g.t IS NOT DISTINCT FROM n.t`;
}

/** Ranks to look up: each as (group, bucket, offset in the bucket), and the keys that want it. */
class RankRequests {
  readonly k: number[] = [];
  readonly s: number[] = [];
  readonly bin: number[] = [];
  readonly hb: number[] = [];
  readonly off: number[] = [];
  readonly u: (string | null)[] = [];
  readonly t: (string | null)[] = [];
  readonly wantedBy: string[][] = [];

  /**
   * The ranks the percentiles of a group of `total` points need, located in its bucket counts.
   * `group` names the group in the answer: rank r is answered under `${group}:${r}`.
   */
  add(group: string, k: number, s: number, bin: number, u: string | null, t: string | null, counts: Map<number, number>, total: number): void {
    const order = [...counts.keys()].sort((x, y) => x - y);
    const seen = new Map<string, number>();
    for (const rank of neededRanks(total)) {
      let before = 0;
      for (const hb of order) {
        const c = counts.get(hb)!;
        if (rank <= before + c) {
          const at = `${hb}:${rank - before}`;
          let i = seen.get(at);
          if (i === undefined) {
            i = this.k.length;
            seen.set(at, i);
            this.k.push(k);
            this.s.push(s);
            this.bin.push(bin);
            this.hb.push(hb);
            this.off.push(rank - before);
            this.u.push(u);
            this.t.push(t);
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
  async fetch(sql: SqlDriver, points: string, base: unknown[], into: Map<string, number>): Promise<void> {
    if (!this.k.length) return;
    const rows = await analyticQuery<{ i: number; v: number }>(sql, ranksSql(points), [...base, this.k, this.s, this.bin, this.hb, this.off, this.u, this.t]);
    for (const r of rows) for (const key of this.wantedBy[Number(r.i) - 1] ?? []) into.set(key, Number(r.v));
  }
}

/** Pass 1's rows folded: moments and bucket counts per bin, per series and per turret. */
class Folded {
  readonly perBin = new Map<string, Acc>();
  readonly perSeries = new Map<number, Acc>();
  readonly binBuckets = new Map<string, Map<number, number>>();
  readonly hist = new Map<number, Map<number, number>>();
  readonly perTurret = new Map<string, { u: string | null; t: string | null; acc: Acc; first: number; last: number; buckets: Map<number, number> }>();

  constructor(private readonly nBins: number) {}

  add(rows: Moments[]): void {
    for (const m of rows) {
      if (m.hb === null) continue; // points without a value (timerPointsSql with check)
      const s = Number(m.s);
      const hb = Number(m.hb);
      const n = Number(m.n);
      const part: Acc = { n, errs: Number(m.errs), min: Number(m.vmin), max: Number(m.vmax), mean: Number(m.vmean), m2: Number(m.vvar) * n };
      if (Number(m.g) === 0) {
        const key = `${s}:${Math.min(Number(m.bin), this.nBins - 1)}`;
        const b = this.binBuckets.get(key) ?? new Map<number, number>();
        b.set(hb, (b.get(hb) ?? 0) + n);
        this.binBuckets.set(key, b);
        const h = this.hist.get(s) ?? new Map<number, number>();
        h.set(hb, (h.get(hb) ?? 0) + n);
        this.hist.set(s, h);
        this.perBin.set(key, merge(this.perBin.get(key), part));
        this.perSeries.set(s, merge(this.perSeries.get(s), part));
      } else {
        const key = JSON.stringify([m.u, m.t]);
        const cur = this.perTurret.get(key);
        const first = Number(m.efirst);
        const last = Number(m.elast);
        if (!cur) {
          this.perTurret.set(key, { u: m.u, t: m.t, acc: part, first, last, buckets: new Map([[hb, n]]) });
        } else {
          cur.acc = merge(cur.acc, part);
          cur.first = Math.min(cur.first, first);
          cur.last = Math.max(cur.last, last);
          cur.buckets.set(hb, (cur.buckets.get(hb) ?? 0) + n);
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
    if (wanted.has(0)) for (const [key, tur] of this.perTurret) req.add(`2:${key}`, 2, 0, -1, tur.u, tur.t, tur.buckets, tur.acc.n);
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
async function aggregateTimers(sql: SqlDriver, runId: number, interval: number): Promise<{ timers: string[]; rows: Moments[] }> {
  const aggregate = (names: string[], check: boolean) =>
    analyticQuery<Moments>(sql, aggregateSql(timerPointsSql(names.length, check), false), [runId, names, interval], { hashOnly: true });
  const sample = await analyticQuery<{ k: string }>(
    sql,
    `SELECT DISTINCT jsonb_object_keys(custom_timers) AS k
       FROM (SELECT custom_timers FROM results WHERE run_id = $1 AND custom_timers IS NOT NULL LIMIT 1000) r`,
    [runId],
  );
  let names = sample.map((r) => r.k);
  let rows = names.length ? await aggregate(names, true) : [];
  if (!names.length || rows.some((m) => Number(m.extra) > 0)) {
    const all = await analyticQuery<{ k: string }>(
      sql,
      `SELECT DISTINCT jsonb_object_keys(custom_timers) AS k FROM results WHERE run_id = $1 AND custom_timers IS NOT NULL`,
      [runId],
      { hashOnly: true },
    );
    names = all.map((r) => r.k);
    rows = names.length ? await aggregate(names, false) : [];
  }
  // Order of first appearance (by elapsed, then name); a timer that only ever held null, last.
  const first = names.map(() => Infinity);
  for (const m of rows) if (m.hb !== null) first[Number(m.s) - 1] = Math.min(first[Number(m.s) - 1]!, Number(m.efirst));
  const order = names.map((_, i) => i).sort((a, b) => first[a]! - first[b]! || (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  const renumber = new Map(order.map((old, i) => [old + 1, i + 1]));
  for (const m of rows) m.s = renumber.get(Number(m.s))!;
  return { timers: order.map((i) => names[i]!), rows };
}

export async function computeStats(sql: SqlDriver, opts: StatsOptions): Promise<RunStats> {
  const { runId, interval } = opts;
  if (!(interval > 0)) throw new Error(`results_ts_interval must be positive, got ${interval}`);
  const quiet = <T>(p: Promise<T>) => (p.catch(() => undefined), p); // awaited later; no unhandled rejection meanwhile

  // Step 1, concurrently: run() times; custom timers (step 2) once their names are known; errors
  // and turrets.
  const runAggP = quiet(analyticQuery<Moments>(sql, aggregateSql(RUN_POINTS, true), [runId, [], interval], { hashOnly: true }));
  const timerAggP = quiet(aggregateTimers(sql, runId, interval));
  const miscP = quiet(
    Promise.all([
      // The distinct count comes with the groups (a window over them), not from another scan.
      analyticQuery<{ message: string; n: number; first: number; last: number; turrets: number; distinct_n: number }>(
        sql,
        `SELECT message, n, first, last, turrets, count(*) OVER ()::float8 AS distinct_n
           FROM (SELECT error AS message, count(*)::float8 AS n, min(elapsed) AS first, max(elapsed) AS last,
                        count(DISTINCT coalesce(turret_uuid, turret_name, ''))::float8 AS turrets
                   FROM results WHERE run_id = $1 AND error IS NOT NULL GROUP BY error) e
          ORDER BY n DESC, message LIMIT ${ERROR_MESSAGES_LIMIT}`,
        [runId],
      ),
      sql.query<{
        uuid: string;
        name: string;
        canons: number | null;
        rampup: number | null;
        script: string | null;
        status: string;
        first_seen: number;
        last_seen: number;
      }>(
        `SELECT uuid, name, canons, rampup, script, status,
                extract(epoch FROM first_seen)::float8 AS first_seen, extract(epoch FROM last_seen)::float8 AS last_seen
           FROM turrets WHERE run_id = $1 ORDER BY first_seen, name`,
        [runId],
      ),
      sql.query<{ uuid: string; name: string; status: string; raw_status: string; reason: string | null; at: number }>(
        `SELECT uuid, name, status, raw_status, reason, extract(epoch FROM at)::float8 AS at
           FROM turret_status_changes WHERE run_id = $1 ORDER BY at, uuid`,
        [runId],
      ),
    ]),
  );

  // Every result is a run() time point: the turret groups cover them all, so they give the extent.
  const runAgg = await runAggP;
  let firstElapsed: number | null = null;
  let lastElapsed: number | null = null;
  for (const m of runAgg) {
    if (Number(m.g) !== 1) continue;
    firstElapsed = Math.min(firstElapsed ?? Infinity, Number(m.efirst));
    lastElapsed = Math.max(lastElapsed ?? -Infinity, Number(m.elast));
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
  const runRanksP = quiet(runRanks.fetch(sql, RUN_POINTS, [runId, [], interval, nBins], rankValue));

  const { timers, rows: timerAgg } = await timerAggP;
  folded.add(timerAgg);
  const timerRanks = new RankRequests();
  folded.request(
    timerRanks,
    timers.map((_, i) => i + 1),
  );
  const timerRanksP = timers.length ? timerRanks.fetch(sql, timerPointsSql(timers.length), [runId, timers, interval, nBins], rankValue) : undefined;

  const [, , [errorRows, turretInfoRows, changeRows]] = await Promise.all([runRanksP, timerRanksP, miscP]);

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

  const changesByTurret = new Map<string, TurretStatusChange[]>();
  const startSec = opts.startedAt ? opts.startedAt.getTime() / 1000 : null;
  for (const c of changeRows) {
    const at = Number(c.at);
    const list = changesByTurret.get(c.uuid) ?? [];
    list.push({ status: c.status, rawStatus: c.raw_status, reason: c.reason, at, elapsed: startSec === null ? null : at - startSec });
    changesByTurret.set(c.uuid, list);
  }

  const turretBreakdown = [...folded.perTurret.entries()]
    .sort(([, a], [, b]) => compareNullsLast(a.t, b.t) || compareNullsLast(a.u, b.u))
    .map(
      ([key, tur]): TurretBreakdown =>
        turretRow(
          tur.u,
          tur.t,
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
      count: Number(r.n),
      firstElapsed: Number(r.first),
      lastElapsed: Number(r.last),
      turrets: Number(r.turrets),
    })),
    distinctErrors: Number(errorRows[0]?.distinct_n ?? 0),
    turretBreakdown,
    turrets: turretInfoRows.map((t) => ({
      uuid: t.uuid,
      name: t.name,
      canons: num(t.canons),
      rampup: num(t.rampup),
      script: t.script,
      status: t.status,
      firstSeen: Number(t.first_seen),
      lastSeen: Number(t.last_seen),
      changes: changesByTurret.get(t.uuid) ?? [],
    })),
    percentileMethod: 'exact (linear interpolation between closest ranks, as percentile_cont)',
  };
}
