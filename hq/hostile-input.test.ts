// The HQ against input a forger or a broken turret might send: a seq far ahead under a real
// turret's uuid must not make its later batches "duplicates", and results with absurd values must
// be refused by kind, so the run still finishes and its report builds both ways.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLOCK_TOLERANCE_SECONDS, MAX_DURATION_SECONDS, MAX_ELAPSED_SECONDS, MAX_EPOCH_SKEW_SECONDS, type ResultRow } from '../protocol/results.ts';
import { generateReport } from '../report/generate.ts';
import { batchFrames, FakeTurret } from '../test/support/fake-turret.ts';
import { hqFixture } from '../test/support/hq-fixture.ts';
import { until } from '../test/support/until.ts';
import { Hq } from './hq.ts';

const fx = hqFixture();
const { log, options, storedRows } = fx;

const legacy = (r: Record<string, unknown>) => [JSON.stringify({ elapsed: 1, epoch: Date.now() / 1000, scriptrun_time: 0.01, error: '', ...r })];

test('a forged seq cannot make real batches duplicates; absurd values are refused; the report builds both ways', async () => {
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 60 }));
  const real = await FakeTurret.connect(hq.endpoints, { name: 'real', oct: true });
  const forger = await FakeTurret.connect(hq.endpoints, { name: 'forger', oct: true });
  const ac = new AbortController();
  try {
    const outcome = hq.run(ac.signal);
    await real.enlist();
    let sent = 0;
    for (let i = 0; i < 5; i++) {
      await real.batch(100);
      sent += 100;
    }
    await until(() => hq.status().transactions === sent, 5000, 'the first real batches');

    // One forged batch and one forged status far ahead, under the real turret's uuid.
    await forger.raw(
      batchFrames([{ elapsed: 1, epoch: Date.now() / 1000, scriptrunTime: 0.01, error: null, customTimers: {} }], {
        uuid: real.uuid,
        turret: 'real',
        seq: 1e9,
      }),
    );
    await forger.raw([JSON.stringify({ oct: 1, status: 'running', uuid: real.uuid, turret: 'real', seq: 1e9 })]);
    // Absurd values, each in one of the forms.
    const now = Date.now() / 1000;
    const absurd: (string | Buffer)[][] = [
      legacy({ elapsed: 1e308 }),
      legacy({ epoch: 0 }),
      legacy({ custom_timers: { login: 1e300 } }),
      [
        JSON.stringify({
          oct: 1,
          type: 'results',
          uuid: 'hostile-json',
          turret: 'x',
          seq: 1,
          results: Array.from({ length: 40 }, () => ({ elapsed: 1, epoch: now, scriptrun_time: 1e300 })),
        }),
      ],
      batchFrames([{ elapsed: 1, epoch: now, scriptrunTime: 1e300, error: null, customTimers: {} }], { uuid: 'hostile-bin', turret: 'x', seq: 1 }),
      batchFrames([{ elapsed: -5, epoch: now, scriptrunTime: 0.01, error: null, customTimers: {} }], { uuid: 'hostile-bin', turret: 'x', seq: 2 }),
    ];
    for (const frames of absurd) await forger.raw(frames);
    await until(() => hq.status().malformed.seq_out_of_window === 2 && hq.status().malformed.out_of_range === absurd.length, 5000, 'the forged messages');

    // Every later real batch is stored, the last one at every bound's extreme.
    for (let i = 0; i < 20; i++) {
      await real.batch(50);
      sent += 50;
    }
    const t = Date.now() / 1000;
    const extremes: ResultRow[] = [
      {
        elapsed: MAX_ELAPSED_SECONDS,
        epoch: t + MAX_EPOCH_SKEW_SECONDS - 60,
        scriptrunTime: MAX_DURATION_SECONDS,
        error: 'slow',
        customTimers: { login: MAX_DURATION_SECONDS },
      },
      {
        elapsed: -CLOCK_TOLERANCE_SECONDS,
        epoch: t - MAX_EPOCH_SKEW_SECONDS + 60,
        scriptrunTime: -CLOCK_TOLERANCE_SECONDS,
        error: null,
        customTimers: { login: -CLOCK_TOLERANCE_SECONDS },
      },
      { elapsed: 2, epoch: t, scriptrunTime: 0, error: null, customTimers: { login: 0 } },
    ];
    await real.raw(batchFrames(extremes, { uuid: real.uuid, turret: 'real', seq: ++real.seq }));
    sent += extremes.length;

    ac.abort();
    await real.waitForOrder('stop');
    await real.status('ready');
    // After its final status, a forged one far ahead must not hold the end of the run or count as missing batches.
    await until(() => hq.status().turrets.find((x) => x.name === 'real')?.state === 'ready', 5000, 'the final status');
    await forger.raw([JSON.stringify({ oct: 1, status: 'ready', uuid: real.uuid, turret: 'real', seq: 2e9 })]);
    const o = await outcome;
    await until(() => hq.status().malformed.seq_out_of_window === 3, 5000, 'the forged final status counted');

    assert.equal(o.state, 'finished', o.error ?? '');
    assert.equal(await storedRows(o.runId), sent, 'every real result stored, none taken for a duplicate');
    assert.equal(o.transactions, sent);
    assert.equal(o.duplicates, 0);
    assert.equal(o.missingBatches, 0);
    assert.equal(o.malformed.out_of_range, absurd.length);
    assert.ok(!log.lines.some((l) => l.includes('stop_grace elapsed')), 'the drain did not wait for a forged seq');

    for (const exact of [false, true]) {
      // results_ts_interval only keeps the bins of a 10⁷ s run few; the values are what is tested.
      const report = await generateReport({
        store: fx.store(),
        runId: o.runId,
        outDir: mkdtempSync(join(tmpdir(), 'oct-hostile-report-')),
        config: { run_time: 60, results_ts_interval: 1e6, thresholds: {} },
        log,
        exact,
      });
      const all = report.summary.series.find((s) => s.total)!;
      assert.equal(all.overall.count, sent, `exact: ${exact}`);
      assert.ok(all.overall.max! <= MAX_DURATION_SECONDS && all.overall.mean! < 1000, `exact: ${exact}: max ${all.overall.max}, mean ${all.overall.mean}`);
      assert.equal(report.summary.series.find((s) => s.name === 'login')?.overall.count, 3, `exact: ${exact}`);
      assert.equal(report.summary.totals.duration, MAX_ELAPSED_SECONDS);
    }
  } finally {
    real.close();
    forger.close();
    await hq.close();
  }
});
