// One statistics engine, end to end: three real turret processes against an HQ on a Postgres store.
// The live /metrics totals, /status, the outcome, summary.json and the report agree exactly on
// counts and within the documented error on percentiles (against the exact SQL over the same rows);
// `results_storage: none` stores no row and still gives the whole report and its thresholds; a
// threshold with abort_on_fail stops every turret within two seconds of the breach.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type HqOptions, Hq } from '../../hq/hq.ts';
import { HqMetrics } from '../../hq/metrics.ts';
import { PERCENTILE_RELATIVE_ERROR } from '../../protocol/histogram.ts';
import { ALL_TRANSACTIONS_SERIES } from '../../protocol/results.ts';
import { generateReport } from '../../report/generate.ts';
import { parseExposition } from '../support/exposition.ts';
import { hqFixture } from '../support/hq-fixture.ts';
import { startOct } from '../support/processes.ts';

const fx = hqFixture();

// Every tenth iteration of a canon fails (context failEvery), a custom timer on the others; from
// failAfterMs after the canon started (context), every iteration fails.
const SCRIPT = `
export class Transaction {
  customTimers: Record<string, number> = {};
  n = 0;
  born = Date.now();
  constructor(private readonly ctx: { data: Record<string, unknown> }) {}
  async run() {
    this.n++;
    const t = 0.002 + Math.random() * 0.008;
    await new Promise((r) => setTimeout(r, t * 1000));
    if (Date.now() - this.born > Number(this.ctx.data.failAfterMs ?? Infinity)) throw new Error('failing now');
    const every = Number(this.ctx.data.failEvery ?? 10);
    if (every > 0 && this.n % every === 0) throw new Error('every tenth fails');
    this.customTimers.Work = t;
  }
}
`;

async function runWithTurrets(config: Record<string, unknown>, turrets = 3) {
  const dir = mkdtempSync(join(tmpdir(), 'oct-stats-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'v_user.ts'), SCRIPT);
  const metrics = new HqMetrics({ log: fx.log });
  const opts: HqOptions = fx.options({ min_turrets: turrets, turrets_wait_timeout: 30, ...config }, { metrics });
  const hq = await Hq.bind(opts);
  const procs = Array.from({ length: turrets }, (_, i) => {
    const file = join(dir, `t${i}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        name: `t${i}`,
        canons: 3,
        rampup: 0,
        script: 'v_user.ts',
        hq_address: '127.0.0.1',
        hq_publisher: hq.endpoints.publishPort,
        hq_rc: hq.endpoints.resultsPort,
      }),
    );
    return startOct(['turret', '--config', file], 90_000);
  });
  try {
    const outcome = await hq.run();
    const status = hq.status();
    const exposition = parseExposition(await metrics.metricsText());
    return { hq, dir, outcome, status, exposition, procs };
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.done));
    await hq.close();
  }
}

function within(actual: number | null, expected: number | null, where: string): void {
  assert.ok(actual !== null && expected !== null, `${where}: ${actual} vs ${expected}`);
  // The histogram's value at rank ceil(p·n) against percentile_cont's interpolation between the two
  // ranks around it: within the documented error of the interval they span (the script's values
  // are dense, so the two ranks are close).
  const slack = expected * PERCENTILE_RELATIVE_ERROR + 0.5e-6 + 0.0005;
  assert.ok(Math.abs(actual - expected) <= slack, `${where}: ${actual} vs exact ${expected} (±${slack})`);
}

describe('one statistics engine', { timeout: 120_000 }, () => {
  test('three turrets: /metrics, /status, the outcome, summary.json and the report agree; the exact report matches within the documented error', async () => {
    const r = await runWithTurrets({ run_time: 4, thresholds: { error_rate: '<50%', Work: { p95: '<1s' } } });
    assert.equal(r.outcome.state, 'finished', r.outcome.error ?? '');
    const n = r.outcome.transactions;
    assert.ok(n > 300, `${n} transactions`);
    assert.equal(r.status.live.transactions, n);
    assert.equal(r.status.transactions, n);
    assert.equal(r.exposition.get(`oct_transaction_duration_seconds_count{series="${ALL_TRANSACTIONS_SERIES}"}`), n);
    let metricTotal = 0;
    for (const [k, v] of r.exposition) if (k.startsWith('oct_transactions_total{') && k.includes(`series="${ALL_TRANSACTIONS_SERIES}"`)) metricTotal += v;
    assert.equal(metricTotal, n);
    assert.equal(fx.log.lines.filter((l) => l.includes('malformed message')).length, 0);
    assert.deepEqual(
      r.status.turrets.map((t) => t.results).reduce((a, b) => a + b, 0),
      n,
      'per-turret counts add up',
    );
    assert.equal(await fx.storedRows(r.outcome.runId), n, 'results_storage all: every row stored');

    const config = { run_time: 4, results_ts_interval: 1, thresholds: { error_rate: '<50%', Work: { p95: '<1s' } } };
    const fromAggregates = await generateReport({
      store: fx.store(),
      runId: r.outcome.runId,
      outDir: join(r.dir, 'agg'),
      config,
      log: fx.log,
      saveArtifact: false,
    });
    const exact = await generateReport({
      store: fx.store(),
      runId: r.outcome.runId,
      outDir: join(r.dir, 'exact'),
      config,
      log: fx.log,
      saveArtifact: false,
      exact: true,
    });
    const a = fromAggregates.summary;
    const e = exact.summary;
    assert.match(a.percentiles, /^histogram/);
    assert.match(e.percentiles, /^exact/);
    assert.equal(a.totals.transactions, n);
    assert.equal(e.totals.transactions, n);
    assert.equal(a.totals.errors, r.outcome.errors);
    assert.equal(e.totals.errors, r.outcome.errors);
    assert.deepEqual(
      a.series.map((s) => s.name),
      e.series.map((s) => s.name),
    );
    for (const [i, s] of a.series.entries()) {
      const x = e.series[i]!;
      assert.equal(s.overall.count, x.overall.count, s.name);
      assert.equal(s.overall.errors, x.overall.errors, s.name);
      assert.equal(s.overall.min, x.overall.min, `${s.name} min`);
      assert.equal(s.overall.max, x.overall.max, `${s.name} max`);
      assert.ok(Math.abs(s.overall.mean! - x.overall.mean!) <= 1e-9 * x.overall.mean!, `${s.name} mean`);
      for (const p of ['p50', 'p80', 'p90', 'p95', 'p99'] as const) within(s.overall[p], x.overall[p], `${s.name} ${p}`);
    }
    assert.deepEqual(
      a.errors.top.map((g) => [g.message, g.count]),
      e.errors.top.map((g) => [g.message, g.count]),
    );
    assert.deepEqual(a.turretBreakdown.map((t) => [t.name, t.count, t.errors]).sort(), e.turretBreakdown.map((t) => [t.name, t.count, t.errors]).sort());
    assert.equal(a.thresholds.passed, true, JSON.stringify(a.thresholds.results));
    assert.deepEqual(a.intake, { ...a.intake!, duplicates: 0, missingBatches: 0, droppedResults: 0, refusedSeries: 0 });
    assert.ok(readFileSync(fromAggregates.htmlPath, 'utf8').includes('every tenth fails'));
  });

  test('results_storage none: no row stored, the whole report and its thresholds from the aggregates', async () => {
    const r = await runWithTurrets({ run_time: 3, results_storage: 'none', thresholds: { error_rate: '<5%' } }, 2);
    assert.equal(r.outcome.state, 'finished', r.outcome.error ?? '');
    const n = r.outcome.transactions;
    assert.ok(n > 100, `${n} transactions`);
    assert.equal(await fx.storedRows(r.outcome.runId), 0);
    const report = await generateReport({
      store: fx.store(),
      runId: r.outcome.runId,
      outDir: join(r.dir, 'none'),
      config: { run_time: 3, results_ts_interval: 1, thresholds: { error_rate: '<5%' } },
      log: fx.log,
      saveArtifact: false,
    });
    const s = report.summary;
    assert.equal(s.totals.transactions, n);
    assert.equal(s.totals.errors, r.outcome.errors);
    assert.deepEqual(s.series.map((x) => x.name).sort(), [ALL_TRANSACTIONS_SERIES, 'Work'].sort());
    assert.ok(s.series[0]!.overall.p95! > 0.002 && s.series[0]!.overall.p95! < 0.5, `p95 ${s.series[0]!.overall.p95}`);
    assert.equal(
      s.series[0]!.bins.reduce((a, b) => a + b.count, 0),
      n,
    );
    assert.equal(s.turretBreakdown.length, 2);
    assert.deepEqual(
      s.errors.top.map((g) => g.message),
      ['every tenth fails'],
    );
    // 10% of iterations fail: the threshold fails, from aggregates alone.
    assert.equal(report.thresholds.passed, false);
    assert.match(report.thresholds.results[0]!.detail, /error_rate = (9|10|11)\.\d+%/);
  });

  test('abort_on_fail: a script failing from second 5 under "error_rate <1%" has every turret stopped within 2 s', async () => {
    const thresholds = { error_rate: { threshold: '<1%', abort_on_fail: true } };
    const r = await runWithTurrets({ run_time: 30, transaction_context: { failAfterMs: 5000, failEvery: 0 }, thresholds }, 3);
    const abort = r.outcome.thresholdAbort;
    assert.ok(abort, 'the threshold stopped the run');
    assert.equal(abort.key, 'error_rate');
    assert.ok(abort.at >= 4.5 && abort.at < 7, `breach seen at ${abort.at} s`);
    const stoppedAfter = (r.outcome.endedAt.getTime() - r.outcome.startedAt!.getTime()) / 1000;
    assert.ok(stoppedAfter < 12, `the run ended after ${stoppedAfter} s of a planned 30`);
    // From the first failure to every turret's last result: under 2 s.
    const [span] = await fx.store().sql.query<{ first_error: number; last: number; turrets: number }>(
      `SELECT min(epoch) FILTER (WHERE error IS NOT NULL)::float8 AS first_error, max(epoch)::float8 AS last,
                count(DISTINCT turret_name)::int AS turrets FROM results WHERE run_id = $1`,
      [r.outcome.runId],
    );
    assert.equal(span!.turrets, 3);
    assert.ok(span!.last - span!.first_error < 2, `last result ${(span!.last - span!.first_error).toFixed(2)} s after the first failure`);
    const report = await generateReport({
      store: fx.store(),
      runId: r.outcome.runId,
      outDir: join(r.dir, 'abort'),
      config: { run_time: 30, results_ts_interval: 1, thresholds },
      log: fx.log,
      saveArtifact: false,
    });
    assert.equal(report.thresholds.passed, false);
    assert.match(report.thresholds.results[0]!.detail, /aborted the run at \d/);
    assert.equal(report.summary.abortedBy?.key, 'error_rate');
  });
});
