// statsFromAggregates against the raw values its deltas were built from, computed exactly here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeltaBuilder, type SecondDelta } from '../protocol/aggregate.ts';
import { PERCENTILE_RELATIVE_ERROR, toMicros } from '../protocol/histogram.ts';
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import type { AggregateRow, ErrorCountRow } from '../store/types.ts';
import { mulberry32 } from '../test/support/random.ts';
import { HISTOGRAM_PERCENTILE_METHOD, MAX_BINS, statsFromAggregates } from './aggregate-stats.ts';
import { PERCENTILES, type LatencyStats, type RunStats, type TurretInfo } from './stats.ts';

interface Turret {
  uuid: string;
  name: string | null;
}

interface Result {
  turret: Turret;
  elapsed: number;
  scriptrunTime: number;
  error: string | null;
  timers: Record<string, number> | null;
}

const TURRETS: Turret[] = [
  { uuid: 'u-2', name: 'beta' },
  { uuid: 'u-1', name: 'alpha' },
  { uuid: 'u-3', name: null }, // a legacy turret: no name
];

/**
 * Bimodal run() times (fast and slow, a few below 128 µs where buckets are 1 µs wide), two error
 * messages (one from a single turret), a timer on half the results and one only at second 7, and a
 * few results finishing after the planned 20 s.
 */
function generate(seed: number, n: number): Result[] {
  const rnd = mulberry32(seed);
  const out: Result[] = [];
  for (let i = 0; i < n; i++) {
    const turret = TURRETS[i % TURRETS.length]!;
    const elapsed = rnd() < 0.005 ? 20 + 2 * rnd() : 20 * rnd();
    const mode = rnd();
    const scriptrunTime = mode < 0.01 ? 5e-5 + 1e-4 * rnd() : mode < 0.7 ? 0.02 + 0.01 * rnd() : 0.3 + 0.2 * rnd();
    const e = rnd();
    const error = e < 0.05 ? 'HTTP 503' : e < 0.08 && turret.uuid === 'u-1' ? 'timeout' : null;
    const timers: Record<string, number> = {};
    if (rnd() < 0.5) timers.login = scriptrunTime * 0.3;
    if (Math.floor(elapsed) === 7) timers.db = 0.001 + 0.004 * rnd();
    out.push({ turret, elapsed, scriptrunTime, error, timers: Object.keys(timers).length ? timers : null });
  }
  return out;
}

function toRows(turret: Turret, deltas: SecondDelta[], rows: AggregateRow[], errors: ErrorCountRow[]): void {
  const who = { turretUuid: turret.uuid, turretName: turret.name };
  for (const d of deltas) {
    for (const s of d.series) rows.push({ second: d.second, ...who, series: s.name, errors: s.errors, hist: s.hist });
    for (const [message, count] of d.errors) errors.push({ second: d.second, ...who, message, count });
  }
}

/** The rows a store would return: each turret flushed twice (so keys repeat), in shuffled order. */
function aggregate(results: Result[], seed: number): { rows: AggregateRow[]; errors: ErrorCountRow[] } {
  const rows: AggregateRow[] = [];
  const errors: ErrorCountRow[] = [];
  for (const turret of TURRETS) {
    const builder = new DeltaBuilder();
    const mine = results.filter((r) => r.turret === turret);
    for (const [i, r] of mine.entries()) {
      builder.record(r.elapsed, r.scriptrunTime, r.error, r.timers);
      if (i === Math.floor(mine.length / 2)) toRows(turret, builder.take(), rows, errors);
    }
    toRows(turret, builder.take(), rows, errors);
  }
  const rnd = mulberry32(seed);
  for (const list of [rows, errors] as unknown[][]) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
  }
  return { rows, errors };
}

interface Point {
  v: number;
  second: number;
  err: boolean;
}

function points(results: Result[], series: string): Point[] {
  return results.flatMap((r) => {
    const v = series === ALL_TRANSACTIONS_SERIES ? r.scriptrunTime : r.timers?.[series];
    return v === undefined ? [] : [{ v, second: Math.floor(r.elapsed), err: r.error !== null }];
  });
}

const close = (a: number | null, e: number, rel: number, where: string) =>
  assert.ok(a !== null && Math.abs(a - e) <= rel * Math.abs(e), `${where}: got ${a}, expected ${e}`);

/** Rank ceil(p·n), in integers (p has two decimals), so the reference has no rounding of its own. */
const rankOf = (p: number, n: number) => Math.max(1, Math.ceil((Math.round(p * 100) * n) / 100));

/** The documented bound: PERCENTILE_RELATIVE_ERROR of the value, plus half a microsecond of rounding. */
const slack = (v: number) => PERCENTILE_RELATIVE_ERROR * v + 0.5e-6 + 1e-12;

function checkPercentile(got: number | null, sorted: number[], p: number, where: string): void {
  const exact = sorted[rankOf(p, sorted.length) - 1]!;
  assert.ok(got !== null && Math.abs(got - exact) <= slack(exact), `${where}: got ${got}, value at rank ceil(p·n) ${exact}`);
  // percentile_cont interpolates between these two ranks; the rank ceil(p·n) is one of them.
  const pos = p * (sorted.length - 1);
  const lo = sorted[Math.floor(pos)]!;
  const hi = sorted[Math.ceil(pos)]!;
  assert.ok(got >= lo - slack(lo) && got <= hi + slack(hi), `${where}: ${got} outside percentile_cont's ranks [${lo}, ${hi}]`);
}

const EMPTY: LatencyStats = {
  count: 0,
  errors: 0,
  min: null,
  mean: null,
  stdev: null,
  p50: null,
  p80: null,
  p90: null,
  p95: null,
  p99: null,
  max: null,
  throughput: 0,
};

function checkLatency(got: LatencyStats, pts: Point[], seconds: number, where: string): void {
  if (!pts.length) {
    for (const k of Object.keys(EMPTY) as (keyof LatencyStats)[]) assert.equal(got[k], EMPTY[k], `${where}.${k}`);
    return;
  }
  const sorted = pts.map((p) => p.v).sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const stdev = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  assert.equal(got.count, n, `${where}.count`);
  assert.equal(got.errors, pts.filter((p) => p.err).length, `${where}.errors`);
  assert.equal(got.min, sorted[0], `${where}.min`);
  assert.equal(got.max, sorted[n - 1], `${where}.max`);
  close(got.mean, mean, 1e-9, `${where}.mean`);
  close(got.stdev, stdev, 1e-9, `${where}.stdev`);
  for (const p of PERCENTILES) checkPercentile(got[`p${Math.round(p * 100)}` as keyof LatencyStats] as number | null, sorted, p, `${where}.p${p * 100}`);
  close(got.throughput, n / seconds, 1e-12, `${where}.throughput`);
}

/** Every value counted in the display bucket that holds it (at the histogram's microsecond resolution). */
function checkDisplay(hist: RunStats['series'][number]['histogram'], pts: Point[], where: string): void {
  assert.ok(hist.length >= 1 && hist.length <= 40, `${where}: ${hist.length} display buckets`);
  const edges = [...hist.map((b) => Math.round(b.from * 1e6)), Math.round(hist[hist.length - 1]!.to * 1e6)];
  for (let i = 0; i < hist.length; i++) assert.ok(edges[i]! < edges[i + 1]!, `${where}: bucket ${i} not empty-ranged`);
  for (let i = 1; i < hist.length; i++) assert.equal(hist[i]!.from, hist[i - 1]!.to, `${where}: contiguous at ${i}`);
  const expected = hist.map(() => 0);
  for (const { v } of pts) {
    const u = toMicros(v);
    const i = edges.findIndex((e, k) => k < hist.length && e <= u && u < edges[k + 1]!);
    assert.ok(i >= 0, `${where}: ${v} s outside every display bucket`);
    expected[i]!++;
  }
  assert.deepEqual(
    hist.map((b) => b.count),
    expected,
    `${where}: counts`,
  );
}

const INFO: TurretInfo[] = TURRETS.map((t, i) => ({
  uuid: t.uuid,
  name: t.name ?? '',
  canons: 10,
  rampup: 0,
  script: 'v_user.js',
  status: 'finished',
  firstSeen: 1000 + i,
  lastSeen: 1030 + i,
  changes: [],
}));

test('statistics from aggregates match the raw results they were built from', () => {
  const interval = 3;
  const runTime = 20;
  for (const seed of [1, 2, 3]) {
    const results = generate(seed, 6000);
    const stats = statsFromAggregates({ ...aggregate(results, seed), turrets: INFO }, { runId: 7, interval, runTime });

    const seconds = results.map((r) => Math.floor(r.elapsed));
    const lastSecond = Math.max(...seconds);
    const duration = Math.max(runTime, lastSecond); // the seconds past run_time are the in-flight tail
    const nBins = Math.ceil(duration / interval);
    const binOf = (s: number) => Math.min(Math.floor(s / interval), nBins - 1);
    const binSeconds = (i: number) => Math.min(interval, duration - i * interval);
    assert.equal(stats.runId, 7);
    assert.equal(stats.interval, interval);
    assert.equal(stats.duration, duration);
    assert.ok(lastSecond >= runTime, 'some results finish after the planned time');
    assert.equal(stats.firstElapsed, Math.min(...seconds));
    assert.equal(stats.lastElapsed, lastSecond);
    assert.equal(stats.percentileMethod, HISTOGRAM_PERCENTILE_METHOD);
    assert.equal(stats.turrets, INFO);

    // "login" is on results from the first second, "db" only at second 7: first appearance, not name.
    assert.deepEqual(
      stats.series.map((s) => [s.name, s.total]),
      [
        [ALL_TRANSACTIONS_SERIES, true],
        ['login', false],
        ['db', false],
      ],
    );
    for (const s of stats.series) {
      const pts = points(results, s.name);
      checkLatency(s.overall, pts, duration, `${seed}:${s.name}.overall`);
      assert.equal(s.bins.length, nBins, `${s.name} bins`);
      for (const [i, bin] of s.bins.entries()) {
        assert.deepEqual([bin.index, bin.start, bin.end], [i, i * interval, i * interval + binSeconds(i)], `${s.name}.bin${i} bounds`);
        checkLatency(
          bin,
          pts.filter((p) => binOf(p.second) === i),
          binSeconds(i),
          `${seed}:${s.name}.bin${i}`,
        );
      }
      checkDisplay(s.histogram, pts, `${seed}:${s.name}.histogram`);
    }
    assert.ok(stats.series[0]!.histogram.length >= 30, 'a wide range gets about 40 display buckets');
    assert.equal(stats.series[2]!.bins.filter((b) => b.count > 0).length, 1, 'db: one bin');

    // Turrets by name, byte order, nameless last (shown by uuid).
    assert.deepEqual(
      stats.turretBreakdown.map((t) => [t.uuid, t.name, t.rawName]),
      [
        ['u-1', 'alpha', 'alpha'],
        ['u-2', 'beta', 'beta'],
        ['u-3', 'u-3', null],
      ],
    );
    for (const t of stats.turretBreakdown) {
      const mine = results.filter((r) => r.turret.uuid === t.uuid);
      const sorted = mine.map((r) => r.scriptrunTime).sort((a, b) => a - b);
      const where = `${seed}:turret ${t.uuid}`;
      assert.equal(t.count, mine.length, `${where}.count`);
      assert.equal(t.errors, mine.filter((r) => r.error !== null).length, `${where}.errors`);
      assert.equal(t.min, sorted[0]);
      assert.equal(t.max, sorted[sorted.length - 1]);
      close(t.mean, sorted.reduce((a, b) => a + b, 0) / sorted.length, 1e-9, `${where}.mean`);
      checkPercentile(t.p50, sorted, 0.5, `${where}.p50`);
      checkPercentile(t.p95, sorted, 0.95, `${where}.p95`);
      checkPercentile(t.p99, sorted, 0.99, `${where}.p99`);
      close(t.throughput, mine.length / duration, 1e-12, `${where}.throughput`);
      assert.equal(t.firstElapsed, Math.min(...mine.map((r) => Math.floor(r.elapsed))));
      assert.equal(t.lastElapsed, Math.max(...mine.map((r) => Math.floor(r.elapsed))));
    }

    const groups = new Map<string, Result[]>();
    for (const r of results) if (r.error !== null) groups.set(r.error, [...(groups.get(r.error) ?? []), r]);
    const expected = [...groups]
      .map(([message, rs]) => ({
        message,
        count: rs.length,
        firstElapsed: Math.min(...rs.map((r) => Math.floor(r.elapsed))),
        lastElapsed: Math.max(...rs.map((r) => Math.floor(r.elapsed))),
        turrets: new Set(rs.map((r) => r.turret.uuid)).size,
      }))
      .sort((a, b) => b.count - a.count);
    assert.deepEqual(stats.errorsByMessage, expected);
    assert.deepEqual(
      stats.errorsByMessage.map((e) => [e.message, e.turrets]),
      [
        ['HTTP 503', 3],
        ['timeout', 1],
      ],
    );
    assert.equal(stats.distinctErrors, 2);
  }
});

test('no aggregates: an empty but complete RunStats, as computeStats gives for a run without results', () => {
  const emptyRun = (duration: number, bins: [number, number][]): RunStats => ({
    runId: 3,
    interval: 3,
    duration,
    firstElapsed: null,
    lastElapsed: null,
    series: [
      {
        name: ALL_TRANSACTIONS_SERIES,
        total: true,
        overall: EMPTY,
        bins: bins.map(([start, end], index) => ({ index, start, end, ...EMPTY })),
        histogram: [],
      },
    ],
    errorsByMessage: [],
    distinctErrors: 0,
    turretBreakdown: [],
    turrets: [],
    percentileMethod: HISTOGRAM_PERCENTILE_METHOD,
  });
  const input = { rows: [], errors: [], turrets: [] };
  assert.deepEqual(
    statsFromAggregates(input, { runId: 3, interval: 3, runTime: 8 }),
    emptyRun(8, [
      [0, 3],
      [3, 6],
      [6, 8],
    ]),
  );
  // A run cut short after 5 s covers those 5 s.
  const startedAt = new Date(1_700_000_000_000);
  assert.deepEqual(
    statsFromAggregates(input, { runId: 3, interval: 3, runTime: 8, startedAt, endedAt: new Date(startedAt.getTime() + 5000) }),
    emptyRun(5, [
      [0, 3],
      [3, 5],
    ]),
  );
  assert.throws(() => statsFromAggregates(input, { runId: 3, interval: 0, runTime: 8 }), /must be positive/);
});

test('custom timers first seen in the same second are ordered by name', () => {
  const builder = new DeltaBuilder();
  builder.record(3.5, 0.1, null, { zeta: 0.01, beta: 0.02 });
  builder.record(1.2, 0.1, null, { mid: 0.01 });
  builder.record(0.2, 0.1, null, null);
  const rows: AggregateRow[] = [];
  toRows(TURRETS[0]!, builder.take(), rows, []);
  const stats = statsFromAggregates({ rows, errors: [], turrets: [] }, { runId: 1, interval: 1, runTime: 5 });
  assert.deepEqual(
    stats.series.map((s) => s.name),
    [ALL_TRANSACTIONS_SERIES, 'mid', 'beta', 'zeta'],
  );
});

test('errors: the 100 most frequent messages, then by message; the distinct count covers them all', () => {
  const errors: ErrorCountRow[] = [];
  for (let k = 0; k < 105; k++) {
    const message = `E${String(k).padStart(3, '0')}`;
    errors.push({ second: k % 10, turretUuid: 'u-1', turretName: 'alpha', message, count: (k % 7) + 1 });
    errors.push({ second: 20 + (k % 3), turretUuid: null, turretName: 'legacy', message, count: 1 });
  }
  const stats = statsFromAggregates({ rows: [], errors, turrets: [] }, { runId: 1, interval: 5, runTime: 10 });
  const expected = Array.from({ length: 105 }, (_, k) => ({
    message: `E${String(k).padStart(3, '0')}`,
    count: (k % 7) + 2,
    firstElapsed: k % 10,
    lastElapsed: 20 + (k % 3),
    turrets: 2,
  }))
    .sort((a, b) => b.count - a.count || (a.message < b.message ? -1 : 1))
    .slice(0, 100);
  assert.deepEqual(stats.errorsByMessage, expected);
  assert.equal(stats.distinctErrors, 105);
  // Errors alone still place the run in time.
  assert.deepEqual([stats.firstElapsed, stats.lastElapsed, stats.duration], [0, 22, 22]);
});

test('a stray second far in the future widens the bins instead of making millions of them', () => {
  const d = new DeltaBuilder();
  d.record(1, 0.01, null, null);
  d.record(9_000_000, 0.02, null, null);
  const rows: AggregateRow[] = d
    .take()
    .flatMap((s) => s.series.map((x) => ({ second: s.second, turretUuid: 'u', turretName: 't', series: x.name, errors: x.errors, hist: x.hist })));
  const stats = statsFromAggregates({ rows, errors: [], turrets: [] }, { runId: 1, interval: 10, runTime: 30 });
  const all = stats.series[0]!;
  assert.ok(all.bins.length <= MAX_BINS, `${all.bins.length} bins`);
  assert.equal(stats.interval % 10, 0, 'a whole multiple of results_ts_interval');
  assert.equal(
    all.bins.reduce((a, b) => a + b.count, 0),
    2,
  );
});
