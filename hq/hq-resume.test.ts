// A restarted HQ (a Kubernetes pod restart) adopts the unfinished run instead of starting a new test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeltaBuilder } from '../protocol/aggregate.ts';
import { Hq } from './hq.ts';
import { hqFixture } from '../test/support/hq-fixture.ts';
import { FakeTurret } from '../test/support/fake-turret.ts';

const fx = hqFixture();
const { log, options, storedRows } = fx;

test('a restarted HQ adopts a running run, collects until its run_time, and finishes it', async () => {
  const opts = options({ min_turrets: 5, run_time: 2 });
  // The previous HQ created and started the run one second ago, then died.
  const prev = await fx.store().createRun({ name: opts.runName, config: opts.config, hqId: 'old' });
  const startedAt = new Date(Date.now() - 1000);
  await fx.store().updateRun(prev.id, { state: 'running', startedAt });
  // What the previous HQ had counted and stored: 30 transactions, 3 failed.
  const before = new DeltaBuilder();
  for (let i = 0; i < 30; i++) before.record(0.5, 0.01, i % 10 === 0 ? 'boom' : null, null);
  const [second] = before.take();
  await fx.store().writeAggregates(
    prev.id,
    second!.series.map((d) => ({ second: second!.second, turretUuid: 'u-old', turretName: 'survivor', series: d.name, errors: d.errors, hist: d.hist })),
    [],
  );
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
    // The counters are the whole run's: what the first HQ stored and what this one took in.
    assert.equal(o.transactions, 30 + 25);
    assert.equal(o.errors, 3 + (await storedRows(prev.id, 'error IS NOT NULL')));
    assert.equal((await fx.store().listRuns()).filter((r) => r.name === opts.runName).length, 1, 'no new run');
  } finally {
    t.close();
    await hq.close();
  }
});

test('a run whose run_time elapsed while the HQ was down is drained briefly and finished', async () => {
  const opts = options({ min_turrets: 1, run_time: 1 });
  const prev = await fx.store().createRun({ name: opts.runName, config: opts.config, hqId: 'old' });
  await fx.store().updateRun(prev.id, { state: 'draining', startedAt: new Date(Date.now() - 60_000) });
  const hq = await Hq.bind(opts);
  try {
    const t0 = Date.now();
    const o = await hq.run();
    assert.equal(o.runId, prev.id);
    assert.equal(o.state, 'finished');
    assert.ok(Date.now() - t0 < 3000);
    assert.equal((await fx.store().getRun(prev.id))!.state, 'finished');
  } finally {
    await hq.close();
  }
});
