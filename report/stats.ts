// Statistics of one run, computed by the database: Node only ever receives aggregated rows (one per
// series × interval bin, per histogram bucket, per error message, per turret), so memory does not
// grow with the number of results. Percentiles are exact: percentile_cont, the linear interpolation
// the original computed with numpy. Latencies are seconds, as stored.
import type { SqlDriver } from '../store/types.ts';
import { analyticQuery } from './analytic-query.ts';

export const TOTAL_SERIES = 'All transactions';
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
  percentileMethod: 'exact (linear interpolation between closest ranks, as percentile_cont)';
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

// Series are numbered: 0 is "All transactions" (run() time), 1..K the custom timers. Each result
// becomes one point per series it has a value for; custom timer values are read with ->> per
// known key, which costs a fraction of expanding every object with jsonb_each.
// ($2, the timer names, is always bound; with no timers the query still names its type.)
function pointsSql(timers: number): string {
  const values = ['(0, r.scriptrun_time)'];
  for (let i = 1; i <= timers; i++) values.push(`(${i}, (r.custom_timers->>($2::text[])[${i}])::float8)`);
  return `SELECT p.s, r.elapsed, p.v, (r.error IS NOT NULL) AS err
            FROM results r CROSS JOIN LATERAL (VALUES ${values.join(', ')}) AS p(s, v)
           WHERE r.run_id = $1 AND p.v IS NOT NULL${timers ? '' : ' AND $2::text[] IS NOT NULL'}`;
}

// Latency buckets: fixed, log-spaced (32 per doubling, ~2.2% wide) from 1 µs, so one hash aggregate
// counts them without knowing the range first. They drive the exact percentile search (narrow
// buckets, few points to sort) and the latency distribution (display merges neighbours).
const HB_PER_OCTAVE = 32;
const HB_FLOOR = 1e-6;
const DISPLAY_BUCKETS = 40;

interface Moments {
  s: number;
  bin: number;
  hb: number;
  n: number;
  errs: number;
  vmin: number;
  vmean: number;
  vvar: number;
  vmax: number;
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
  const edge = (hb: number) => HB_FLOOR * Math.pow(2, hb / HB_PER_OCTAVE);
  const out: HistogramBucket[] = [];
  for (let start = lo; start <= hi; start += merge) {
    let count = 0;
    for (let hb = start; hb < start + merge; hb++) count += counts.get(hb) ?? 0;
    out.push({ from: edge(start), to: edge(start + merge), count });
  }
  return out;
}

export async function computeStats(sql: SqlDriver, opts: StatsOptions): Promise<RunStats> {
  const { runId, interval } = opts;
  if (!(interval > 0)) throw new Error(`results_ts_interval must be positive, got ${interval}`);

  // Custom timer names in order of first appearance, and the run's extent, in one scan.
  const [keyRows, boundRows] = await Promise.all([
    analyticQuery<{ k: string; first: number }>(
      sql,
      `SELECT k, min(elapsed) AS first
         FROM (SELECT jsonb_object_keys(custom_timers) AS k, elapsed FROM results
                WHERE run_id = $1 AND custom_timers IS NOT NULL) x
        GROUP BY k ORDER BY first, k`,
      [runId],
    ),
    sql.query<{ n: number; lo: number | null; hi: number | null }>(
      `SELECT count(*)::float8 AS n, min(elapsed) AS lo, max(elapsed) AS hi FROM results WHERE run_id = $1`,
      [runId],
    ),
  ]);
  const timers = keyRows.map((r) => r.k);
  const firstElapsed = num(boundRows[0]?.lo);
  const lastElapsed = num(boundRows[0]?.hi);
  const actual = opts.startedAt && opts.endedAt ? (opts.endedAt.getTime() - opts.startedAt.getTime()) / 1000 : null;
  // A run cut short covers only the time it ran; results that arrive after run_time (in-flight
  // transactions finishing) stretch the last bin rather than vanish.
  const planned = actual !== null && actual > 0 ? Math.min(opts.runTime, actual) : opts.runTime;
  const duration = Math.max(planned, lastElapsed ?? 0, Number.EPSILON);
  const nBins = Math.max(1, Math.ceil(duration / interval - 1e-9));
  const binSeconds = (i: number) => Math.min(interval, duration - i * interval);

  const pts = pointsSql(timers.length);
  const binExpr = `LEAST(GREATEST(floor(elapsed / $3::float8), 0), $4::int - 1)::int`;
  const hbExpr = `floor(${HB_PER_OCTAVE} * ln(GREATEST(v, ${HB_FLOOR}) / ${HB_FLOOR}) / ln(2))::int`;
  const base = [runId, timers, interval, nBins];

  // Pass 1, one scan, hash aggregates only: moments per series × bin and per series, and counts per
  // series × bin × fine latency bucket (hb). Those counts say which bucket holds each rank a
  // percentile needs, so pass 2 sorts only the points of those buckets: exact percentiles without
  // sorting every point (sorting 2M points took Postgres ~4 s here; this takes a fraction).
  const buckets = await analyticQuery<Moments>(
    sql,
    `SELECT s, bin, hb, count(*)::float8 AS n, count(*) FILTER (WHERE err)::float8 AS errs,
            min(v) AS vmin, avg(v) AS vmean, var_pop(v) AS vvar, max(v) AS vmax
       FROM (SELECT s, ${binExpr} AS bin, ${hbExpr} AS hb, v, err FROM (${pts}) p) x
      GROUP BY s, bin, hb`,
    base,
  );
  // Per bin and per series, the buckets' moments merged (Chan et al.: stable, no sum of squares).
  const perBin = new Map<string, Acc>();
  const perSeries = new Map<number, Acc>();
  const binBuckets = new Map<string, Map<number, number>>();
  const hist = new Map<number, Map<number, number>>();
  for (const m of buckets) {
    const s = Number(m.s);
    const hb = Number(m.hb);
    const n = Number(m.n);
    const key = `${s}:${m.bin}`;
    const b = binBuckets.get(key) ?? new Map<number, number>();
    b.set(hb, n);
    binBuckets.set(key, b);
    const h = hist.get(s) ?? new Map<number, number>();
    h.set(hb, (h.get(hb) ?? 0) + n);
    hist.set(s, h);
    const part: Acc = { n, errs: Number(m.errs), min: Number(m.vmin), max: Number(m.vmax), mean: Number(m.vmean), m2: Number(m.vvar) * n };
    perBin.set(key, merge(perBin.get(key), part));
    perSeries.set(s, merge(perSeries.get(s), part));
  }

  // Wanted ranks, each as (bucket, offset in the bucket): kind 0 within a series × bin, kind 1
  // within a whole series.
  const need = { k: [] as number[], s: [] as number[], bin: [] as number[], hb: [] as number[], off: [] as number[] };
  const wanted = new Map<string, string[]>();
  const locate = (k: number, s: number, bin: number, counts: Map<number, number>, total: number) => {
    const order = [...counts.keys()].sort((x, y) => x - y);
    for (const rank of neededRanks(total)) {
      let before = 0;
      for (const hb of order) {
        const c = counts.get(hb)!;
        if (rank <= before + c) {
          const key = `${k}:${s}:${bin}:${hb}:${rank - before}`;
          if (!wanted.has(key)) {
            need.k.push(k);
            need.s.push(s);
            need.bin.push(bin);
            need.hb.push(hb);
            need.off.push(rank - before);
            wanted.set(key, []);
          }
          wanted.get(key)!.push(`${k}:${s}:${bin}:${rank}`);
          break;
        }
        before += c;
      }
    }
  };
  for (const [key, m] of perBin) {
    const [s, bin] = key.split(':').map(Number) as [number, number];
    locate(0, s, bin, binBuckets.get(key) ?? new Map(), m.n);
  }
  for (const [s, m] of perSeries) locate(1, s, -1, hist.get(s) ?? new Map(), m.n);

  const ranksQuery = need.k.length
    ? analyticQuery<{ k: number; s: number; bin: number; hb: number; off: number; v: number }>(
        sql,
        `WITH need AS (SELECT * FROM unnest($5::int[], $6::int[], $7::int[], $8::int[], $9::int[]) AS n(k, s, bin, hb, off)),
              ranked AS (
                SELECT s, bin, hb, v,
                       row_number() OVER (PARTITION BY s, bin, hb ORDER BY v) AS off_bin,
                       row_number() OVER (PARTITION BY s, hb ORDER BY v) AS off_all
                  FROM (SELECT s, ${binExpr} AS bin, ${hbExpr} AS hb, v FROM (${pts}) p) x
                 WHERE (s, hb) IN (SELECT s, hb FROM need))
         SELECT n.k, n.s, n.bin, n.hb, n.off, r.v FROM ranked r
           JOIN need n ON n.k = 0 AND n.s = r.s AND n.bin = r.bin AND n.hb = r.hb AND n.off = r.off_bin
         UNION ALL
         SELECT n.k, n.s, n.bin, n.hb, n.off, r.v FROM ranked r
           JOIN need n ON n.k = 1 AND n.s = r.s AND n.hb = r.hb AND n.off = r.off_all`,
        [...base, need.k, need.s, need.bin, need.hb, need.off],
      )
    : Promise.resolve([]);

  const [ranks, errorRows, distinctRows, turretRows, turretInfoRows, changeRows] = await Promise.all([
    ranksQuery,
    analyticQuery<{ message: string; n: number; first: number; last: number; turrets: number }>(
      sql,
      `SELECT error AS message, count(*)::float8 AS n, min(elapsed) AS first, max(elapsed) AS last,
              count(DISTINCT coalesce(turret_uuid, turret_name, ''))::float8 AS turrets
         FROM results WHERE run_id = $1 AND error IS NOT NULL
        GROUP BY error ORDER BY n DESC, message LIMIT ${ERROR_MESSAGES_LIMIT}`,
      [runId],
    ),
    sql.query<{ n: number }>(`SELECT count(DISTINCT error)::float8 AS n FROM results WHERE run_id = $1`, [runId]),
    analyticQuery<{
      uuid: string | null;
      name: string | null;
      n: number;
      errs: number;
      vmin: number;
      vmean: number;
      vmax: number;
      pct: number[] | string;
      first: number;
      last: number;
    }>(
      sql,
      `SELECT turret_uuid AS uuid, turret_name AS name, count(*)::float8 AS n, count(error)::float8 AS errs,
              min(scriptrun_time) AS vmin, avg(scriptrun_time) AS vmean, max(scriptrun_time) AS vmax,
              percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY scriptrun_time) AS pct,
              min(elapsed) AS first, max(elapsed) AS last
         FROM results WHERE run_id = $1
        GROUP BY turret_uuid, turret_name ORDER BY turret_name NULLS LAST, turret_uuid NULLS LAST`,
      [runId],
    ),
    sql.query<{ uuid: string; name: string; canons: number | null; rampup: number | null; script: string | null; status: string; first_seen: number; last_seen: number }>(
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
  ]);

  const rankValue = new Map<string, number>();
  for (const r of ranks) for (const key of wanted.get(`${r.k}:${r.s}:${r.bin}:${r.hb}:${r.off}`) ?? []) rankValue.set(key, Number(r.v));

  const names = [TOTAL_SERIES, ...timers];
  const series: SeriesStats[] = names.map((name, s) => {
    const overall = fill(perSeries.get(s), duration, (rank) => rankValue.get(`1:${s}:-1:${rank}`));
    return {
      name,
      total: s === 0,
      overall,
      bins: Array.from({ length: nBins }, (_, i) => ({
        index: i,
        start: i * interval,
        end: i * interval + binSeconds(i),
        ...fill(perBin.get(`${s}:${i}`), binSeconds(i), (rank) => rankValue.get(`0:${s}:${i}:${rank}`)),
      })),
      histogram: displayHistogram(hist.get(s) ?? new Map()),
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
    distinctErrors: Number(distinctRows[0]?.n ?? 0),
    turretBreakdown: turretRows.map((r) => {
      const [p50, p95, p99] = toNumArray(r.pct);
      const n = Number(r.n);
      return {
        uuid: r.uuid,
        name: r.name ?? r.uuid ?? '(unnamed)',
        rawName: r.name,
        count: n,
        errors: Number(r.errs),
        min: num(r.vmin),
        mean: num(r.vmean),
        p50: p50 ?? null,
        p95: p95 ?? null,
        p99: p99 ?? null,
        max: num(r.vmax),
        throughput: n / duration,
        firstElapsed: num(r.first),
        lastElapsed: num(r.last),
      };
    }),
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

// pg parses float8[] into numbers; another driver may hand back the text form "{1,2,3}".
function toNumArray(v: unknown): (number | null)[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map(num);
  return String(v).replace(/^\{|\}$/g, '').split(',').map((s) => (s === 'NULL' ? null : Number(s)));
}
