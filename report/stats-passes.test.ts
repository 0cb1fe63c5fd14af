// The statistics' query plan details: custom timer names that the sample misses (a timer first seen
// after the first 1,000 results), and per-turret percentiles (bucket-guided ranks) against
// percentile_cont computed by the database itself.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import type { SqlDriver } from '../store/types.ts';
import { computeStats } from './stats.ts';
import { mulberry32 } from '../test/support/random.ts';
import { type GenResult, insertResults, insertRun, pgDriver } from '../test/support/results-data.ts';

let db: TestDatabase;
let sql: SqlDriver;
before(async () => {
  db = await createTestDatabase();
  sql = await pgDriver(db.url);
});
after(async () => {
  await sql?.close();
  await db?.drop();
});

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
  const runId = await insertRun(sql, { config: {} });
  await insertResults(sql, runId, rows);
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
  const runId = await insertRun(sql, { config: {} });
  await insertResults(sql, runId, rows);
  const stats = await computeStats(sql, { runId, interval: 10, runTime: 60 });
  const expected = await sql.query<{ uuid: string | null; name: string | null; n: number; p: number[] }>(
    `SELECT turret_uuid AS uuid, turret_name AS name, count(*)::float8 AS n,
            percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[]) WITHIN GROUP (ORDER BY scriptrun_time) AS p
       FROM results WHERE run_id = $1 GROUP BY 1, 2`,
    [runId],
  );
  assert.equal(stats.turretBreakdown.length, expected.length);
  for (const e of expected) {
    const got = stats.turretBreakdown.find((t) => t.uuid === e.uuid && t.rawName === e.name);
    assert.ok(got, `turret ${e.uuid}/${e.name}`);
    assert.equal(got.count, Number(e.n));
    assert.deepEqual([got.p50, got.p95, got.p99], e.p.map(Number), `turret ${e.uuid}/${e.name}`);
  }
});
