// The database's statistics against a reference computed here, in plain JS, over the same data.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { memoryLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';
import type { SqlDriver, Store } from '../store/types.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import { computeStats, type LatencyStats } from './stats.ts';
import { mulberry32 } from '../test/support/random.ts';
import { type GenResult, insertResults, insertRun } from '../test/support/results-data.ts';

let db: TestDatabase;
let store: Store;
let sql: SqlDriver;
before(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, log: memoryLogger('warn') });
  sql = store.sql;
});
after(async () => {
  await store?.close();
  await db?.drop();
});

// Linear interpolation between closest ranks: what percentile_cont and numpy.percentile compute.
function percentile(sorted: number[], p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

function reference(values: number[], errors: number, seconds: number): LatencyStats {
  if (!values.length)
    return { count: 0, errors: 0, min: null, mean: null, stdev: null, p50: null, p80: null, p90: null, p95: null, p99: null, max: null, throughput: 0 };
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const stdev = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length);
  return {
    count: s.length,
    errors,
    min: s[0]!,
    mean,
    stdev,
    p50: percentile(s, 0.5),
    p80: percentile(s, 0.8),
    p90: percentile(s, 0.9),
    p95: percentile(s, 0.95),
    p99: percentile(s, 0.99),
    max: s[s.length - 1]!,
    throughput: s.length / seconds,
  };
}

function assertClose(actual: LatencyStats, expected: LatencyStats, where: string): void {
  for (const k of Object.keys(expected) as (keyof LatencyStats)[]) {
    const a = actual[k];
    const e = expected[k];
    if (e === null || a === null) assert.equal(a, e, `${where}.${k}`);
    else assert.ok(Math.abs(a - e) <= 1e-9 * Math.max(1, Math.abs(e)), `${where}.${k}: got ${a}, expected ${e}`);
  }
}

interface Spec {
  runTime: number;
  interval: number;
  rows: GenResult[];
}

function check(spec: Spec, stats: Awaited<ReturnType<typeof computeStats>>): void {
  const { rows, interval } = spec;
  const lastElapsed = rows.length ? Math.max(...rows.map((r) => r.elapsed)) : 0;
  const duration = Math.max(spec.runTime, lastElapsed);
  assert.ok(Math.abs(stats.duration - duration) < 1e-9, 'duration');
  const nBins = Math.max(1, Math.ceil(duration / interval - 1e-9));
  const binOf = (e: number) => Math.min(Math.max(Math.floor(e / interval), 0), nBins - 1);
  const secondsOf = (i: number) => Math.min(interval, duration - i * interval);

  // Series names in order of first appearance (by elapsed), after "All transactions".
  const firstSeen = new Map<string, number>();
  for (const r of rows) for (const k of Object.keys(r.customTimers ?? {})) firstSeen.set(k, Math.min(firstSeen.get(k) ?? Infinity, r.elapsed));
  const timerNames = [...firstSeen.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
  assert.deepEqual(
    stats.series.map((s) => s.name),
    [ALL_TRANSACTIONS_SERIES, ...timerNames],
  );

  const seriesValues = (name: string | null) =>
    rows.flatMap((r) => {
      const v = name === null ? r.scriptrunTime : r.customTimers?.[name];
      return v === undefined ? [] : [{ v, e: r.elapsed, err: r.error !== null }];
    });
  for (const s of stats.series) {
    const pts = seriesValues(s.total ? null : s.name);
    assertClose(
      s.overall,
      reference(
        pts.map((p) => p.v),
        pts.filter((p) => p.err).length,
        duration,
      ),
      `${s.name}.overall`,
    );
    assert.equal(s.bins.length, nBins, `${s.name} bins`);
    for (let i = 0; i < nBins; i++) {
      const inBin = pts.filter((p) => binOf(p.e) === i);
      assertClose(
        s.bins[i]!,
        reference(
          inBin.map((p) => p.v),
          inBin.filter((p) => p.err).length,
          secondsOf(i),
        ),
        `${s.name}.bin${i}`,
      );
      assert.equal(s.bins[i]!.start, i * interval);
    }
    assert.equal(
      s.histogram.reduce((a, b) => a + b.count, 0),
      pts.length,
      `${s.name} histogram total`,
    );
  }

  const byMessage = new Map<string, number>();
  for (const r of rows) if (r.error !== null) byMessage.set(r.error, (byMessage.get(r.error) ?? 0) + 1);
  assert.deepEqual(new Map(stats.errorsByMessage.map((e) => [e.message, e.count])), byMessage, 'errors by message');
  const perTurret = new Map<string, number>();
  const turretKey = (uuid: string | null, name: string | null) => `${uuid}|${name}`;
  for (const r of rows) perTurret.set(turretKey(r.turretUuid, r.turretName), (perTurret.get(turretKey(r.turretUuid, r.turretName)) ?? 0) + 1);
  assert.deepEqual(new Map(stats.turretBreakdown.map((t) => [turretKey(t.uuid, t.rawName), t.count])), perTurret);
}

// Timings from a clock: no subnormal doubles (jsonb keeps numbers as numeric, and 5e-324 does not
// survive a float8 round trip through it, nor would it come from a real clock).
const timing = (max: number) => fc.double({ min: 0, max, noNaN: true }).filter((v) => v === 0 || v > 1e-12);
const timerName = fc.constantFrom('login', 'search', '<script>alert(1)</script>', 'All transactions', 'é ü', "it's'); DROP TABLE results; --", '$1 $$ \\');
const resultArb = fc.record({
  turretUuid: fc.constantFrom('u1', 'u2', null),
  turretName: fc.constantFrom('alpha', 'beta', null),
  // Gaps in elapsed make empty bins likely; whole values hit bin edges exactly.
  elapsed: fc.oneof(timing(40), fc.integer({ min: 0, max: 40 })),
  epoch: fc.constant(1_700_000_000),
  scriptrunTime: fc.oneof(timing(5), fc.constantFrom(0, 0.1, 0.1)),
  error: fc.option(fc.constantFrom('timeout', 'HTTP 500', '', 'tab\there\nnewline \\ back'), { freq: 3 }),
  customTimers: fc.option(fc.dictionary(timerName, timing(3), { maxKeys: 3 }), { freq: 2 }),
});

test('statistics match an independent reference (property, with empty bins and bin edges)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        runTime: fc.integer({ min: 1, max: 45 }),
        interval: fc.constantFrom(1, 2.5, 7, 10, 60),
        rows: fc.array(resultArb, { maxLength: 60 }),
      }),
      async (spec) => {
        const runId = await insertRun(store, { config: {} });
        await insertResults(store, runId, spec.rows);
        const stats = await computeStats(sql, { runId, interval: spec.interval, runTime: spec.runTime });
        check(spec, stats);
      },
    ),
    { numRuns: 40 },
  );
});

test('a larger run: 20,000 results, 3 custom timers, a silent stretch in the middle', async () => {
  const rnd = mulberry32(7);
  const rows: GenResult[] = [];
  for (let i = 0; i < 20_000; i++) {
    const elapsed = rnd() * 60;
    if (elapsed > 20 && elapsed < 35) continue; // bins 2 and 3 stay empty at interval 10... and 4 partly
    const timers: Record<string, number> = { a: rnd() * 0.2 };
    if (i % 3 === 0) timers.b = rnd();
    if (elapsed > 40) timers.late = rnd() * 2;
    rows.push({
      turretUuid: `u${i % 4}`,
      turretName: `t${i % 4}`,
      elapsed,
      epoch: 1_700_000_000 + elapsed,
      scriptrunTime: -Math.log(1 - rnd()) * 0.05,
      error: i % 97 === 0 ? `error ${i % 5}` : null,
      customTimers: timers,
    });
  }
  const runId = await insertRun(store, { config: {} });
  await insertResults(store, runId, rows);
  const stats = await computeStats(sql, { runId, interval: 10, runTime: 60 });
  check({ runTime: 60, interval: 10, rows }, stats);
  const total = stats.series[0]!;
  assert.equal(total.bins[2]!.count, 0);
  assert.equal(total.bins[2]!.throughput, 0);
  assert.equal(total.bins[2]!.p95, null);
});

test('a run with no results yields one empty series and zero-count bins', async () => {
  const runId = await insertRun(store, { config: {} });
  const stats = await computeStats(sql, { runId, interval: 10, runTime: 30 });
  assert.equal(stats.series.length, 1);
  assert.equal(stats.series[0]!.overall.count, 0);
  assert.deepEqual(
    stats.series[0]!.bins.map((b) => b.count),
    [0, 0, 0],
  );
});

test('status changes are placed relative to the start of the run', async () => {
  const runId = await insertRun(store, { config: {} });
  const start = new Date('2025-01-01T00:00:00Z');
  await store.upsertTurret(runId, {
    uuid: 'u1',
    name: 'alpha',
    canons: 2,
    rampup: 0,
    script: 's.ts',
    state: 'lost',
    firstSeen: start,
    lastSeen: new Date(start.getTime() + 12_000),
  });
  for (const [state, s] of [
    ['ready', 0],
    ['running', 1],
    ['lost', 12.5],
  ] as const) {
    await store.recordStatusChange(runId, { uuid: 'u1', name: 'alpha', state, rawStatus: state, reason: null, at: new Date(start.getTime() + s * 1000) });
  }
  const stats = await computeStats(sql, { runId, interval: 10, runTime: 30, startedAt: start, endedAt: new Date(start.getTime() + 31_000) });
  assert.equal(stats.turrets.length, 1);
  assert.deepEqual(
    stats.turrets[0]!.changes.map((c) => [c.status, c.elapsed]),
    [
      ['ready', 0],
      ['running', 1],
      ['lost', 12.5],
    ],
  );
});
