// The statistics' query plan details: custom timer names that the sample misses (a timer first seen
// after the first 1,000 results), and per-turret percentiles (bucket-guided ranks) against
// percentile_cont's arithmetic over the generated values, sorted in full.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';
import type { SqlDriver, Store } from '../store/types.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { computeStats } from './stats.ts';
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

// percentile_cont's arithmetic (orderedsetaggs.c): the value at rank floor(p·(n−1)), plus that
// fraction of the step to the next one.
function percentileCont(sorted: number[], p: number): number {
  const pos = p * (sorted.length - 1);
  const first = Math.floor(pos);
  const lo = sorted[first]!;
  return first === pos ? lo : lo + (sorted[first + 1]! - lo) * (pos - first);
}

test('a timer first seen after the sampled results is found, in order of first appearance', async () => {
  const rnd = mulberry32(3);
  const rows: GenResult[] = [];
  for (let i = 0; i < 3000; i++) {
    const timers: Record<string, number> = { early: rnd() };
    if (i >= 2500) timers.late = rnd() * 2;
    if (i === 2999) timers.zlast = 0.5;
    rows.push({
      turretUuid: 'u',
      turretName: 't',
      elapsed: i / 100,
      epoch: 1_700_000_000,
      scriptrunTime: rnd(),
      error: null,
      customTimers: i % 7 ? timers : {},
    });
  }
  const runId = await insertRun(store, { config: {} });
  await insertResults(store, runId, rows);
  const stats = await computeStats(sql, { runId, interval: 10, runTime: 30 });
  assert.deepEqual(
    stats.series.map((s) => s.name),
    ['All transactions', 'early', 'late', 'zlast'],
  );
  const late = rows
    .filter((r) => r.customTimers?.late !== undefined)
    .map((r) => r.customTimers!.late!)
    .sort((a, b) => a - b);
  assert.equal(stats.series[2]!.overall.count, late.length);
  assert.equal(stats.series[2]!.overall.max, late[late.length - 1]);
  assert.equal(stats.series[3]!.overall.count, 1);
});

test('per-turret percentiles equal percentile_cont', async () => {
  const rnd = mulberry32(11);
  const rows: GenResult[] = [];
  for (let i = 0; i < 20_000; i++) {
    const t = i % 5;
    rows.push({
      turretUuid: t === 4 ? null : `u${t}`,
      turretName: t === 3 ? null : `t${t % 3}`,
      elapsed: rnd() * 60,
      epoch: 1_700_000_000,
      scriptrunTime: t === 2 ? 0.25 : -Math.log(1 - rnd()) * 0.05 * (t + 1),
      error: null,
      customTimers: null,
    });
  }
  const runId = await insertRun(store, { config: {} });
  await insertResults(store, runId, rows);
  const stats = await computeStats(sql, { runId, interval: 10, runTime: 60 });
  const byTurret = new Map<string, { uuid: string | null; name: string | null; values: number[] }>();
  for (const r of rows) {
    const key = JSON.stringify([r.turretUuid, r.turretName]);
    const group = byTurret.get(key) ?? { uuid: r.turretUuid, name: r.turretName, values: [] };
    group.values.push(r.scriptrunTime);
    byTurret.set(key, group);
  }
  assert.equal(stats.turretBreakdown.length, byTurret.size);
  for (const e of byTurret.values()) {
    const got = stats.turretBreakdown.find((t) => t.uuid === e.uuid && t.rawName === e.name);
    assert.ok(got, `turret ${e.uuid}/${e.name}`);
    assert.equal(got.count, e.values.length);
    const sorted = e.values.sort((a, b) => a - b);
    assert.deepEqual(
      [got.p50, got.p95, got.p99],
      [0.5, 0.95, 0.99].map((p) => percentileCont(sorted, p)),
      `turret ${e.uuid}/${e.name}`,
    );
  }
});
