// The run's statistics from the stored per-second histogram deltas (Store.readAggregates) rather
// than from every result: the same RunStats as computeStats, at a cost proportional to the rows
// (seconds × series × turrets), however many results they stand for. Counts, errors, min, max, mean
// and stdev are exact (the deltas carry exact moments); percentiles are the histogram's value at
// rank ceil(p·n), within PERCENTILE_RELATIVE_ERROR of the recorded one, not percentile_cont's
// interpolation. Times have whole-second resolution: a row only knows the second its results fell
// in. Custom timers beyond the turret's cap arrive folded into one "other" series, shown as such.
import { isCheckSeries } from '../protocol/series-names.ts';
import { bucketBounds, bucketOf, LatencyHistogram } from '../protocol/histogram.ts';
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import type { AggregateRow, ErrorCountRow } from '../store/types.ts';
import {
  PERCENTILES,
  type ErrorGroup,
  type HistogramBucket,
  type LatencyStats,
  type RunStats,
  type SeriesStats,
  type StatsOptions,
  type TurretBreakdown,
  type TurretInfo,
  compareNullsLast,
  turretRow,
} from './stats.ts';

export const HISTOGRAM_PERCENTILE_METHOD = 'histogram (value at rank ceil(p·n), within 0.4%)' as const;

// As computeStats: how many messages are listed, and about how many bars the latency distribution has.
const ERROR_MESSAGES_LIMIT = 100;
const DISPLAY_BUCKETS = 40;

export interface AggregateInput {
  rows: AggregateRow[];
  errors: ErrorCountRow[];
  turrets: TurretInfo[];
}

/** A merged histogram and how many of its values came from failed transactions. */
class Tally {
  readonly hist = new LatencyHistogram();
  errors = 0;

  add(row: AggregateRow): void {
    this.hist.addEncoded(row.hist);
    this.errors += row.errors;
  }

  stats(seconds: number): LatencyStats {
    const h = this.hist;
    if (h.count === 0) return emptyLatency();
    const [p50, p80, p90, p95, p99] = PERCENTILES.map((p) => h.percentile(p));
    return {
      count: h.count,
      errors: this.errors,
      min: h.min,
      mean: h.mean,
      stdev: h.stdev,
      p50: p50!,
      p80: p80!,
      p90: p90!,
      p95: p95!,
      p99: p99!,
      max: h.max,
      throughput: seconds > 0 ? h.count / seconds : 0,
    };
  }

  reset(): void {
    this.hist.reset();
    this.errors = 0;
  }
}

function emptyLatency(): LatencyStats {
  return { count: 0, errors: 0, min: null, mean: null, stdev: null, p50: null, p80: null, p90: null, p95: null, p99: null, max: null, throughput: 0 };
}

/** The bins and the seconds they cover, by computeStats's rules. */
interface Timeline {
  /** Seconds per bin: results_ts_interval, widened by a whole factor when it would make too many bins. */
  interval: number;
  duration: number;
  nBins: number;
  binSeconds(i: number): number;
  binOf(second: number): number;
}

// A report of more bins than this is megabytes per series and no chart can show it (one stray
// second far in the future, or a week-long run at 1 s): bins widen instead.
export const MAX_BINS = 10_000;

function timeline(opts: StatsOptions, lastSecond: number | null): Timeline {
  const actual = opts.startedAt && opts.endedAt ? (opts.endedAt.getTime() - opts.startedAt.getTime()) / 1000 : null;
  const planned = actual !== null && actual > 0 ? Math.min(opts.runTime, actual) : opts.runTime;
  // A row of second s holds results from s to s + 1. Past the planned time those are the in-flight
  // iterations finishing after stop, a fraction of a second: counting the whole second would cut
  // the rate of a short run by up to 1/run_time, so the run stretches to s only (off by < 1 s).
  const duration = Math.max(planned, lastSecond ?? 0, Number.EPSILON);
  const interval = opts.interval * Math.max(1, Math.ceil(duration / opts.interval / MAX_BINS - 1e-9));
  const nBins = Math.max(1, Math.ceil(duration / interval - 1e-9));
  return {
    interval,
    duration,
    nBins,
    binSeconds: (i) => Math.min(interval, duration - i * interval),
    binOf: (second) => Math.min(Math.max(Math.floor(second / interval), 0), nBins - 1),
  };
}

/** First and last second with data, values or errors. */
function secondsExtent(rows: AggregateRow[], errors: ErrorCountRow[]): { first: number; last: number } | null {
  let first = Infinity;
  let last = -Infinity;
  for (const list of [rows, errors]) {
    for (const { second } of list) {
      if (second < first) first = second;
      if (second > last) last = second;
    }
  }
  return first === Infinity ? null : { first, last };
}

const codeUnitOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** "All transactions", then the custom timers by first second, then name (as computeStats orders them). */
function seriesNames(rows: AggregateRow[]): string[] {
  const first = new Map<string, number>();
  for (const r of rows)
    if (r.series !== ALL_TRANSACTIONS_SERIES && !isCheckSeries(r.series)) first.set(r.series, Math.min(first.get(r.series) ?? Infinity, r.second));
  const timers = [...first].sort((a, b) => a[1] - b[1] || codeUnitOrder(a[0], b[0])).map(([name]) => name);
  return [ALL_TRANSACTIONS_SERIES, ...timers];
}

function seriesStats(rows: AggregateRow[], names: string[], tl: Timeline): SeriesStats[] {
  const { interval } = tl;
  const index = new Map(names.map((name, s) => [name, s]));
  const overall = names.map(() => new Tally());
  const binStats = names.map(() => new Map<number, LatencyStats>());
  // Bin after bin with one histogram per series, reset in between: a histogram holds a dense
  // ~26 KB bucket array, so all series × bins at once would take gigabytes on a long run.
  const current = names.map(() => new Tally());
  const rowsByBin: AggregateRow[][] = Array.from({ length: tl.nBins }, () => []);
  for (const r of rows) rowsByBin[tl.binOf(r.second)]!.push(r);
  for (const [bin, binRows] of rowsByBin.entries()) {
    const touched = new Set<number>();
    for (const r of binRows) {
      const s = index.get(r.series);
      if (s === undefined) continue; // a check: report/script-metrics.ts
      overall[s]!.add(r);
      current[s]!.add(r);
      touched.add(s);
    }
    for (const s of touched) {
      binStats[s]!.set(bin, current[s]!.stats(tl.binSeconds(bin)));
      current[s]!.reset();
    }
  }
  return names.map((name, s) => ({
    name,
    total: s === 0,
    overall: overall[s]!.stats(tl.duration),
    bins: Array.from({ length: tl.nBins }, (_, i) => ({
      index: i,
      start: i * interval,
      end: i * interval + tl.binSeconds(i),
      ...(binStats[s]!.get(i) ?? emptyLatency()),
    })),
    histogram: displayHistogram(overall[s]!.hist),
  }));
}

/**
 * About 40 log-spaced buckets over the range of the values, as computeStats draws them. The edges
 * are moved down onto the histogram's own bucket bounds so that each count lies wholly inside the
 * display bucket it is shown in; where the histogram's buckets are coarser than that (1 µs wide
 * below 128 µs), edges coincide and there are fewer display buckets.
 */
function displayHistogram(h: LatencyHistogram): HistogramBucket[] {
  const fine = h.buckets();
  if (!fine.length) return [];
  const micros = (seconds: number) => Math.round(seconds * 1e6);
  const lo = micros(fine[0]![0]);
  const hi = micros(fine[fine.length - 1]![1]);
  const base = Math.max(1, lo); // the first bucket may start at 0, where no log scale does
  const edges = [lo];
  for (let k = 1; k < DISPLAY_BUCKETS; k++) {
    const edge = bucketBounds(bucketOf(Math.floor(base * (hi / base) ** (k / DISPLAY_BUCKETS)))).low;
    if (edge > edges[edges.length - 1]! && edge < hi) edges.push(edge);
  }
  edges.push(hi);
  const out = edges.slice(0, -1).map((from, i) => ({ from: from / 1e6, to: edges[i + 1]! / 1e6, count: 0 }));
  let j = 0;
  for (const [low, , count] of fine) {
    while (micros(low) >= edges[j + 1]!) j++;
    out[j]!.count += count;
  }
  return out;
}

// Byte order, as computeStats lists turrets (and as the database sorts text under the C collation).
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Run() times per turret: every transaction is one, so they cover the turret's whole activity. */
function turretBreakdown(rows: AggregateRow[], duration: number): TurretBreakdown[] {
  const turrets = new Map<string, { uuid: string | null; name: string | null; tally: Tally; first: number; last: number }>();
  for (const r of rows) {
    if (r.series !== ALL_TRANSACTIONS_SERIES) continue;
    const key = JSON.stringify([r.turretUuid, r.turretName]);
    let tur = turrets.get(key);
    if (!tur) turrets.set(key, (tur = { uuid: r.turretUuid, name: r.turretName, tally: new Tally(), first: r.second, last: r.second }));
    tur.tally.add(r);
    tur.first = Math.min(tur.first, r.second);
    tur.last = Math.max(tur.last, r.second);
  }
  return [...turrets.values()]
    .sort((a, b) => compareNullsLast(a.name, b.name) || compareNullsLast(a.uuid, b.uuid))
    .map((tur) => turretRow(tur.uuid, tur.name, tur.tally.stats(duration), tur.first, tur.last));
}

/** The most frequent messages (then by message, byte order), and how many distinct ones there are. */
function errorGroups(errors: ErrorCountRow[]): { top: ErrorGroup[]; distinct: number } {
  const groups = new Map<string, { count: number; first: number; last: number; turrets: Set<string> }>();
  for (const e of errors) {
    let g = groups.get(e.message);
    if (!g) groups.set(e.message, (g = { count: 0, first: e.second, last: e.second, turrets: new Set() }));
    g.count += e.count;
    g.first = Math.min(g.first, e.second);
    g.last = Math.max(g.last, e.second);
    g.turrets.add(e.turretUuid ?? e.turretName ?? ''); // computeStats: count(DISTINCT coalesce(uuid, name, ''))
  }
  const all = [...groups]
    .map(([message, g]) => ({ message, count: g.count, firstElapsed: g.first, lastElapsed: g.last, turrets: g.turrets.size }))
    .sort((a, b) => b.count - a.count || byteOrder(a.message, b.message));
  return { top: all.slice(0, ERROR_MESSAGES_LIMIT), distinct: all.length };
}

export function statsFromAggregates(input: AggregateInput, opts: StatsOptions): RunStats {
  const { runId, interval } = opts;
  if (!(interval > 0)) throw new Error(`results_ts_interval must be positive, got ${interval}`);
  // A delta without values says nothing (and an empty histogram has no min or max to merge).
  const rows = input.rows.filter((r) => r.hist.n > 0);
  const errors = input.errors.filter((e) => e.count > 0);
  const extent = secondsExtent(rows, errors);
  const tl = timeline(opts, extent?.last ?? null);
  const { top, distinct } = errorGroups(errors);
  return {
    runId,
    interval: tl.interval,
    duration: tl.duration,
    firstElapsed: extent?.first ?? null,
    lastElapsed: extent?.last ?? null,
    series: seriesStats(rows, seriesNames(rows), tl),
    errorsByMessage: top,
    distinctErrors: distinct,
    turretBreakdown: turretBreakdown(rows, tl.duration),
    turrets: input.turrets,
    percentileMethod: HISTOGRAM_PERCENTILE_METHOD,
  };
}
