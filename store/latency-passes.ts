// The two passes of the exact statistics over the stored results (report/stats.ts folds their rows
// and does the percentile arithmetic): pass 1, hash aggregates only, counts the points of every
// fine latency bucket with their moments; pass 2 returns the values at the ranks the percentiles
// need, sorting only the points of the buckets that hold those ranks. Latencies are seconds, as
// stored.
import { analyticQuery } from './analytic-query.ts';
import type { SqlDriver } from './types.ts';

// Latency buckets: fixed, log-spaced (32 per doubling, ~2.2% wide) from 1 µs, so one hash aggregate
// counts them without knowing the range first.
const BUCKETS_PER_OCTAVE = 32;
const BUCKET_FLOOR = 1e-6;

/** The lower edge of a latency bucket (the upper edge of the one before), seconds. */
export const latencyBucketEdge = (bucket: number): number => BUCKET_FLOOR * 2 ** (bucket / BUCKETS_PER_OCTAVE);

/**
 * The points a pass reads: every result's run() time (series 0, broken down per turret too), or
 * the named custom timers (series 1..n, in the order given).
 */
export type Points = 'run times' | { timers: readonly string[] };

/** One row of pass 1: the moments of the points of one latency bucket of a group. */
export interface BucketMoments {
  /** 'bin': a (series, bin, bucket) group; 'turret': a (series, turret, bucket) group. */
  grouping: 'bin' | 'turret';
  series: number;
  /** Not clamped: a result after the end of the test is in a bin past the last. null for 'turret'. */
  bin: number | null;
  /** null for points without a value (kept only by checkUnlisted; not statistics). */
  bucket: number | null;
  turretUuid: string | null;
  turretName: string | null;
  count: number;
  errors: number;
  min: number;
  mean: number;
  /** Population variance. */
  variance: number;
  max: number;
  firstElapsed: number;
  lastElapsed: number;
  /** Results with a custom timer the pass was not given (checkUnlisted only). */
  unlistedTimers: number;
}

/** The ranks pass 2 looks up, one column per field, one entry per lookup. */
export interface RankLookups {
  /** 0: a series × bin, 1: a whole series, 2: a series × turret. */
  groupKind: number[];
  series: number[];
  /** The bin for group kind 0, else -1. */
  bin: number[];
  bucket: number[];
  /** 1-based position among the bucket's points of the group, in value order. */
  offset: number[];
  turretUuid: (string | null)[];
  turretName: (string | null)[];
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

/** The SQL of a points source and its $2 (the timer names). */
function pointsSql(points: Points, check = false): { sql: string; names: readonly string[] } {
  return points === 'run times' ? { sql: RUN_POINTS, names: [] } : { sql: timerPointsSql(points.timers.length, check), names: points.timers };
}

// NULL for a point without a value (GREATEST alone would put it in the lowest bucket).
const HB_EXPR = `CASE WHEN v IS NOT NULL THEN floor(${BUCKETS_PER_OCTAVE} * ln(GREATEST(v, ${BUCKET_FLOOR}) / ${BUCKET_FLOOR}) / ln(2))::int END`;
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

interface MomentsRow {
  g: number;
  s: number;
  bin: number | null;
  hb: number | null;
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
  extra: number;
}

/**
 * Pass 1 over `points`, with bins `interval` seconds wide. With checkUnlisted (custom timers only),
 * every result with a timer is read and unlistedTimers counts those with a timer not named, so
 * the names may come from a sample (sampledTimerNames) and be checked in the same scan.
 */
export async function bucketMoments(
  sql: SqlDriver,
  runId: number,
  points: Points,
  interval: number,
  opts: { checkUnlisted?: boolean } = {},
): Promise<BucketMoments[]> {
  const source = pointsSql(points, opts.checkUnlisted);
  const rows = await analyticQuery<MomentsRow>(sql, aggregateSql(source.sql, points === 'run times'), [runId, source.names, interval], { hashOnly: true });
  return rows.map((r) => ({
    grouping: Number(r.g) === 0 ? 'bin' : 'turret',
    series: Number(r.s),
    bin: r.bin === null ? null : Number(r.bin),
    bucket: r.hb === null ? null : Number(r.hb),
    turretUuid: r.u,
    turretName: r.t,
    count: Number(r.n),
    errors: Number(r.errs),
    min: Number(r.vmin),
    mean: Number(r.vmean),
    variance: Number(r.vvar),
    max: Number(r.vmax),
    firstElapsed: Number(r.efirst),
    lastElapsed: Number(r.elast),
    unlistedTimers: Number(r.extra),
  }));
}

/**
 * Pass 2 over `points`: the value at each lookup, bins clamped to `bins` (a result after the end of
 * the test is in the last bin). `lookup` is the lookup's index in `ranks`.
 */
export async function valuesAtRanks(
  sql: SqlDriver,
  runId: number,
  points: Points,
  interval: number,
  bins: number,
  ranks: RankLookups,
): Promise<{ lookup: number; value: number }[]> {
  const source = pointsSql(points);
  const rows = await analyticQuery<{ i: number; v: number }>(sql, ranksSql(source.sql), [
    runId,
    source.names,
    interval,
    bins,
    ranks.groupKind,
    ranks.series,
    ranks.bin,
    ranks.bucket,
    ranks.offset,
    ranks.turretUuid,
    ranks.turretName,
  ]);
  return rows.map((r) => ({ lookup: Number(r.i) - 1, value: Number(r.v) }));
}

/** Custom timer names found in the first 1,000 results that have timers: reading every result just for the names costs as much as pass 1. */
export async function sampledTimerNames(sql: SqlDriver, runId: number): Promise<string[]> {
  const rows = await analyticQuery<{ k: string }>(
    sql,
    `SELECT DISTINCT jsonb_object_keys(custom_timers) AS k
       FROM (SELECT custom_timers FROM results WHERE run_id = $1 AND custom_timers IS NOT NULL LIMIT 1000) r`,
    [runId],
  );
  return rows.map((r) => r.k);
}

/** Every custom timer name of the run, in no particular order. */
export async function allTimerNames(sql: SqlDriver, runId: number): Promise<string[]> {
  const rows = await analyticQuery<{ k: string }>(
    sql,
    `SELECT DISTINCT jsonb_object_keys(custom_timers) AS k FROM results WHERE run_id = $1 AND custom_timers IS NOT NULL`,
    [runId],
    { hashOnly: true },
  );
  return rows.map((r) => r.k);
}
