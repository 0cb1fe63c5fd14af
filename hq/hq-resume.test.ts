// A restarted HQ (a Kubernetes pod restart) adopts the unfinished run instead of starting a new test.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { parseProjectConfig } from '../protocol/config.ts';
import { openPostgresStore } from '../store/postgres.ts';
import type { Store } from '../store/types.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { Hq, type HqOptions } from './hq.ts';
import { FakeTurret, simpleSink, until } from './test-support.ts';

let db: TestDatabase;
let store: Store;
const log = memoryLogger('debug');

before(async () => {
  db = await createTestDatabase();
  store = await openPostgresStore(db.url, log);
  await store.migrate();
});
after(async () => {
  await store.close();
  await db.drop();
});

function options(config: Record<string, unknown>, extra: Partial<HqOptions> = {}): HqOptions {
  return {
    config: parseProjectConfig({ publish_port: 0, rc_port: 0, http_port: 0, stop_grace: 5, ...config }),
    store,
    runName: `run-${Math.random().toString(36).slice(2)}`,
    log,
    bindHost: '127.0.0.1',
    spillDir: mkdtempSync(join(tmpdir(), 'oct-hq-spill-')),
    createSink: process.env.OCT_HQ_TEST_SIMPLE_SINK ? (s, id) => simpleSink(s, id) : undefined,
    ...extra,
  };
}

async function storedRows(runId: number, where = 'true'): Promise<number> {
  const [r] = await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM results WHERE run_id = $1 AND ${where}`, [runId]);
  return Number(r!.n);
}

test('a restarted HQ adopts a running run, collects until its run_time, and finishes it', async () => {
  const opts = options({ min_turrets: 5, run_time: 2 });
  // The previous HQ created and started the run one second ago, then died.
  const prev = await store.createRun({ name: opts.runName, config: opts.config, hqId: 'old' });
  const startedAt = new Date(Date.now() - 1000);
  await store.updateRun(prev.id, { state: 'running', startedAt });
  const hq = await Hq.bind(opts);
  const t = await FakeTurret.connect(hq.endpoints, { name: 'survivor', oct: true });
  try {
    assert.equal(hq.runId, prev.id);
    assert.equal(hq.resumed, true);
    const t0 = Date.now();
    const outcome = hq.run();
    await t.status('running', { seq: 40 }); // it kept its numbering from the previous HQ's time
    t.seq = 40;
    await t.batch(25);
    await t.waitForOrder('stop');
    assert.ok(Date.now() - t0 < 1800, 'stopped at startedAt + run_time, not a full run_time later');
    assert.ok(!t.commands().includes('start'), 'a running turret is not restarted');
    await t.status('ready');
    const o = await outcome;
    assert.equal(o.runId, prev.id);
    assert.equal(o.state, 'finished');
    assert.equal(o.missingBatches, 0, 'seq baseline taken from the first status');
    assert.equal(await storedRows(prev.id), 25);
    assert.equal((await store.listRuns()).filter((r) => r.name === opts.runName).length, 1, 'no new run');
  } finally {
    t.close();
    await hq.close();
  }
});

test('a run whose run_time elapsed while the HQ was down is drained briefly and finished', async () => {
  const opts = options({ min_turrets: 1, run_time: 1 });
  const prev = await store.createRun({ name: opts.runName, config: opts.config, hqId: 'old' });
  await store.updateRun(prev.id, { state: 'draining', startedAt: new Date(Date.now() - 60_000) });
  const hq = await Hq.bind(opts);
  try {
    const t0 = Date.now();
    const o = await hq.run();
    assert.equal(o.runId, prev.id);
    assert.equal(o.state, 'finished');
    assert.ok(Date.now() - t0 < 3000);
    assert.equal((await store.getRun(prev.id))!.state, 'finished');
  } finally {
    await hq.close();
  }
});
