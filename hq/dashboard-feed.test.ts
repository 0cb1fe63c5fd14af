// The dashboard feed on a real aggregator fed real histogram deltas: its points match the
// aggregator, the history stays bounded over a one-hour run of 100 turrets × 50 timers (a new page
// gets a frame of bounded size, each second's update is small and quick to build), and control
// actions and saturation show.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeltaBuilder } from '../protocol/aggregate.ts';
import type { TurretSummary } from './hq.ts';
import { Aggregator } from './aggregator.ts';
import { coarsen, DashboardFeed, type DashboardSource, MAX_POINTS } from './dashboard-feed.ts';
import { retargetShape } from './load-planner.ts';
import { cumulativeAt, targetAt } from '../protocol/load-plan.ts';
import type { Progress } from './lifecycle.ts';

function source(stats: Aggregator, turrets: TurretSummary[], progress: () => Progress): DashboardSource {
  return {
    runId: 1,
    runName: 'r',
    progress,
    live: () => stats.snapshot(),
    interval: () => stats.takeInterval(),
    errorsByMessage: (n) => stats.errorsByMessage(n),
    turrets: () => turrets,
    saturated: (uuid) => uuid === 'u0',
    plannedTarget: () => ({ model: 'open', target: 100 }),
    latestLoad: () => null,
    control: () => [],
  };
}

function progressAt(elapsed: number, stats: Aggregator): Progress {
  return {
    state: 'running',
    elapsedSeconds: elapsed,
    runTime: 3600,
    turrets: { total: 0, byState: {} as Progress['turrets']['byState'] },
    canonsRunning: 0,
    transactions: stats.transactions,
    errors: stats.errors,
    checks: { passes: 0, fails: 0 },
    ratePerSecond: 0,
    droppedIterations: 0,
    malformed: 0,
  };
}

test('dashboard feed: one point a second from the aggregator, errors by message, saturation', () => {
  let now = 0;
  const stats = new Aggregator({ clock: { now: () => now, monotonic: () => now } });
  let elapsed = 0;
  const turret: TurretSummary = {
    uuid: 'u0',
    name: 't0',
    state: 'running',
    oct: true,
    results: 0,
    canons: 2,
    canonsRunning: 2,
    health: { elu: 0.95, cpu: 0.97, lagMs: 40 },
    joinedAt: new Date(),
    leftAt: null,
  };
  const feed = new DashboardFeed(
    source(stats, [turret], () => progressAt(elapsed, stats)),
    { monotonic: () => now },
  );
  const d = new DeltaBuilder();
  for (let i = 0; i < 100; i++) d.record(0, 0.01 * (i + 1), i % 10 === 0 ? 'HTTP 500' : null, {});
  stats.addDeltas({ uuid: 'u0', name: 't0' }, d.take());
  now += 1000;
  elapsed = 1;
  const f = feed.tick();
  assert.equal(f.totals.transactions, 100);
  assert.equal(f.point!.tps, 100);
  assert.equal(f.point!.eps, 10);
  const all = f.point!.series['All transactions']!;
  assert.ok(Math.abs(all.p50 - 500) / 500 < 0.01, `p50 ${all.p50} ms`);
  assert.ok(Math.abs(all.p99 - 990) / 990 < 0.01, `p99 ${all.p99} ms`);
  assert.deepEqual(f.errors, [{ message: 'HTTP 500', count: 10 }]);
  assert.deepEqual(f.saturated, ['t0']);
  assert.equal(f.turrets[0]!.loopMs, 40);
  assert.equal(f.load?.target, 100);
  // Nothing new arrived: the next point has no latency, and zero throughput.
  now += 1000;
  elapsed = 2;
  const g = feed.tick();
  assert.equal(g.point!.tps, 0);
  assert.equal(g.point!.series['All transactions'], undefined);
  assert.deepEqual(feed.full().history!.series['All transactions']!.p50.length, 2);
});

test('dashboard feed: one hour of 100 turrets × 50 timers stays a bounded history and small updates', (t) => {
  let now = 0;
  const stats = new Aggregator({ clock: { now: () => now, monotonic: () => now } });
  let elapsed = 0;
  const turrets: TurretSummary[] = Array.from({ length: 100 }, (_, i) => ({
    uuid: `u${i}`,
    name: `turret-${i}`,
    state: 'running',
    oct: true,
    results: 0,
    canons: 10,
    canonsRunning: 10,
    health: { elu: 0.3, cpu: 0.4, lagMs: 2 },
    joinedAt: new Date(),
    leftAt: null,
  }));
  const feed = new DashboardFeed(
    source(stats, turrets, () => progressAt(elapsed, stats)),
    { monotonic: () => now },
  );
  const timers = Array.from({ length: 50 }, (_, i) => `timer-${i}`);
  // One delta per turret per second for ten turrets (the feed's cost does not depend on how many sent it).
  const deltas = Array.from({ length: 10 }, (_, k) => {
    const d = new DeltaBuilder();
    for (let i = 0; i < 20; i++) d.record(0, 0.02 + 0.001 * i + k * 0.001, null, Object.fromEntries(timers.map((t) => [t, 0.01 + 0.0005 * i])));
    return d.take();
  });
  let worstTickMs = 0;
  let totalTickMs = 0;
  let biggestUpdate = 0;
  for (let s = 1; s <= 3600; s++) {
    for (let k = 0; k < 10; k++)
      stats.addDeltas(
        { uuid: `u${k}`, name: `turret-${k}` },
        deltas[k]!.map((x) => ({ ...x, second: s })),
      );
    now += 1000;
    elapsed = s;
    const t0 = performance.now();
    const frame = feed.tick();
    const text = JSON.stringify(frame);
    const took = performance.now() - t0;
    worstTickMs = Math.max(worstTickMs, took);
    totalTickMs += took;
    if (!frame.history) biggestUpdate = Math.max(biggestUpdate, text.length);
  }
  const full = feed.full();
  assert.ok(full.history!.t.length <= MAX_POINTS && full.history!.t.length >= MAX_POINTS / 2, `${full.history!.t.length} points`);
  assert.equal(Object.keys(full.history!.series).length, 51);
  const fullBytes = JSON.stringify(full).length;
  t.diagnostic(
    `full frame ${fullBytes} bytes, largest update ${biggestUpdate} bytes, mean tick ${(totalTickMs / 3600).toFixed(2)} ms, worst ${worstTickMs.toFixed(1)} ms, ${full.history!.t.length} points`,
  );
  // Measured here: ~850 KB for a new page, ~22 KB a second (the 100-turret table and 51 series), a mean tick under 1 ms.
  assert.ok(fullBytes < 3_000_000, `a new page's frame: ${fullBytes} bytes`);
  assert.ok(biggestUpdate < 60_000, `an update: ${biggestUpdate} bytes`);
  // The mean is the cost; the worst is a GC pause or a busy machine (2 shared cores), so only bounded loosely.
  assert.ok(totalTickMs / 3600 < 25, `mean tick ${(totalTickMs / 3600).toFixed(2)} ms`);
  assert.ok(worstTickMs < 3000, `worst tick ${worstTickMs.toFixed(1)} ms`);
  // The coarsened history still covers the whole hour, in order.
  const ts = full.history!.t;
  assert.equal(ts[0], 0);
  assert.ok(ts[ts.length - 1]! > 3500);
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! > ts[i - 1]!);
});

test('coarsen: widths add, rates average by width, latencies keep the worse', () => {
  const h = {
    t: [0, 1, 2],
    w: [1, 1, 2],
    tps: [10, 20, 30],
    eps: [0, 2, 0],
    target: [5, 5, 6],
    achieved: [4, null, 6],
    loopMs: [1, 3, null],
    cpu: [0.1, 0.2, 0.3],
    lagMs: [null, null, 1],
    series: { a: { p50: [1, 2, 3], p95: [5, null, 7], p99: [9, 8, 7], mean: [1, 1, 1] } },
  };
  const c = coarsen(h);
  assert.deepEqual(c.t, [0, 2]);
  assert.deepEqual(c.w, [2, 2]);
  assert.deepEqual(c.tps, [15, 30]);
  assert.deepEqual(c.eps, [1, 0]);
  assert.deepEqual(c.achieved, [4, 6]);
  assert.deepEqual(c.series.a!.p95, [5, 7]);
  assert.deepEqual(c.series.a!.p99, [9, 7]);
});

test('retargetShape: the past does not move, the new target holds to the end of the current stage', () => {
  const shape = {
    startTarget: 0,
    stages: [
      { duration: 10, target: 100 },
      { duration: 20, target: 100 },
      { duration: 10, target: 0 },
    ],
  };
  const r = retargetShape(shape, 15, 40);
  for (const t of [0, 5, 10, 14.9, 15]) {
    assert.ok(Math.abs(targetAt(r, t) - targetAt(shape, t)) < 1e-9 || t === 15, `target at ${t}`);
    assert.ok(Math.abs(cumulativeAt(r, t) - cumulativeAt(shape, t)) < 1e-6, `cumulative at ${t}`);
  }
  assert.equal(targetAt(r, 15.01), 40);
  assert.equal(targetAt(r, 29.9), 40);
  // The next stage ramps from the new target.
  assert.ok(Math.abs(targetAt(r, 35) - 20) < 1e-9);
  assert.equal(targetAt(r, 50), 0);
  // After the last stage: the new target holds to the end.
  const held = retargetShape(shape, 45, 7);
  assert.equal(targetAt(held, 44), 0);
  assert.equal(targetAt(held, 46), 7);
  assert.equal(targetAt(held, 1000), 7);
});
