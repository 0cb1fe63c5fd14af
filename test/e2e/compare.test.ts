// oct compare on two stored runs with known differences (B 50% slower at every percentile, half
// the throughput, twice the error rate): the printed deltas and compare.html (charts drawn in
// Chromium from the inlined library, zero network requests); bad input exits 2 with a clear
// message. Then relative thresholds on real `oct run`s: a run like its baseline passes (exit 0), a
// regressed one fails (exit 4), and a relative threshold without a baseline exits 2.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { OCT_BIN, runProgram } from '../support/processes.ts';
import { type GenResult, insertResults } from '../support/results-data.ts';
import { workloadProject } from '../support/workload-project.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.ts';

/** A results folder with one finished 10 s run: `n` results of `latency` s each, every `errorEvery`-th failed. */
async function storedRun(dir: string, name: string, opts: { n: number; latency: number; errorEvery: number; timer?: string }): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ run_time: 10, results_ts_interval: 5 }));
  const store = await openStore({ embeddedDir: join(dir, 'db'), log: createLogger() });
  try {
    const run = await store.createRun({ name, config: { run_time: 10, results_ts_interval: 5 }, hqId: null });
    const start = new Date('2025-05-01T10:00:00Z');
    await store.updateRun(run.id, { state: 'finished', startedAt: start, endedAt: new Date(start.getTime() + 10_000) });
    const rows: GenResult[] = [];
    for (let i = 0; i < opts.n; i++) {
      const elapsed = (i / opts.n) * 10;
      rows.push({
        turretUuid: 'u1',
        turretName: 't1',
        elapsed,
        epoch: start.getTime() / 1000 + elapsed,
        scriptrunTime: opts.latency,
        error: i % opts.errorEvery === 0 ? 'boom' : null,
        customTimers: opts.timer ? { [opts.timer]: opts.latency / 2 } : null,
      });
    }
    await insertResults(store, run.id, rows);
  } finally {
    await store.close();
  }
}

const oct = (args: string[], cwd?: string) => runProgram(process.execPath, [OCT_BIN, ...args], { cwd, timeoutMs: 120_000 });

test('oct compare: known deltas, an offline compare.html, and bad input', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'oct-compare-'));
  const a = join(tmp, 'a');
  const b = join(tmp, 'b');
  const c = join(tmp, 'c');
  await storedRun(a, 'base', { n: 1000, latency: 0.1, errorEvery: 100 });
  await storedRun(b, 'slow', { n: 500, latency: 0.15, errorEvery: 25 });
  await storedRun(c, 'other', { n: 500, latency: 0.1, errorEvery: 100, timer: 'Login' });

  const out = join(tmp, 'out');
  const r = await oct(['compare', a, b, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const line = (metric: string) => r.stdout.split('\n').find((l) => l.startsWith('All transactions') && l.includes(` ${metric} `)) ?? '';
  assert.match(line('p50'), /100ms\s+150ms\s+\+50\.0%/);
  assert.match(line('p95'), /100ms\s+150ms\s+\+50\.0%/);
  assert.match(line('p99'), /100ms\s+150ms\s+\+50\.0%/);
  assert.match(line('throughput'), /100\.00\/s\s+50\.00\/s\s+-50\.0%/);
  assert.match(r.stdout, /error rate\s+1\.00%\s+4\.00%\s+\+300\.0%/);

  const json = await oct(['compare', a, b, '--out', out, '--json']);
  const cmp = JSON.parse(json.stdout.slice(0, json.stdout.lastIndexOf('written:'))) as {
    series: { name: string; delta: { p95: number; throughput: number } }[];
  };
  assert.ok(Math.abs(cmp.series[0]!.delta.p95 - 0.5) < 0.01);
  assert.ok(Math.abs(cmp.series[0]!.delta.throughput + 0.5) < 1e-9);

  const html = join(out, 'compare.html');
  assert.ok(existsSync(html));
  assert.ok(!/(src|href)=["']?(https?:)?\/\//i.test(readFileSync(html, 'utf8')), 'no external resources');
  assert.match(readFileSync(html, 'utf8'), /<meta name="generator" content="oct \d+\.\d+/, "oct's own version");
  if (!existsSync(CHROMIUM) && !process.env.CI)
    t.diagnostic(`${CHROMIUM} not installed: the rendered comparison is not checked (scripts/install-system-deps.sh installs it)`);
  else {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1300, height: 1200 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (q) => requests.push(q.url()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`file://${html}`);
      await page.waitForFunction(() => document.documentElement.getAttribute('data-comparison-charts') === '2');
      assert.deepEqual(requests, [`file://${html}`], 'zero network requests');
      assert.deepEqual(errors, []);
      assert.equal(await page.locator('[data-compare-chart] canvas').count(), 2);
      assert.equal((await page.locator('tr[data-metric=p95] td').nth(4).innerText()).trim(), '+50.0%');
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: join('test-artifacts', 'compare.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }

  const different = await oct(['compare', a, c, '--out', out]);
  assert.equal(different.code, 2);
  assert.match(different.stderr, /different series \(only in run 1 \(other\): Login\)/);
  const unknown = await oct(['compare', a, join(tmp, 'nope'), '--out', out]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no such results folder; for a run id or name give --database-url/);
  const notFolder = await oct(['compare', a, tmp, '--out', out]);
  assert.equal(notFolder.code, 2);
  assert.match(notFolder.stderr, /not a results folder/);
});

test('oct run --baseline: a relative threshold passes a run like its baseline and fails a regressed one (exit 4)', async () => {
  const script = (ms: number) => `export class Transaction {
  customTimers = {};
  async run() { await new Promise((r) => setTimeout(r, ${ms})); }
}
`;
  const config = (extra: Record<string, unknown>) => ({
    run_time: 3,
    stop_grace: 3,
    turrets: [
      { name: 'a', canons: 2, rampup: 0, script: 'v_user.ts' },
      { name: 'b', canons: 2, rampup: 0, script: 'v_user.ts' },
    ],
    ...extra,
  });
  const base = await workloadProject(config({}), script(50));
  const r0 = await oct(['run', base.dir, '--no-progress', '--results-dir', base.results]);
  assert.equal(r0.code, 0, r0.stdout + r0.stderr);

  const same = await workloadProject(config({ thresholds: { p95: '<+100%' } }), script(50));
  const r1 = await oct(['run', same.dir, '--no-progress', '--results-dir', same.results, '--baseline', base.results]);
  assert.equal(r1.code, 0, r1.stdout + r1.stderr);
  assert.match(r1.stdout, /baseline: run 1/);
  assert.match(readFileSync(join(same.results, 'results.html'), 'utf8'), /id="comparison-section"/);

  // The baseline named in config.json, relative to the project.
  const slow = await workloadProject(config({ thresholds: { p95: '<+100%' }, baseline: base.results }), script(200));
  const r2 = await oct(['run', slow.dir, '--no-progress', '--results-dir', slow.results]);
  assert.equal(r2.code, 4, r2.stdout + r2.stderr);
  assert.match(r2.stdout, /FAIL\s+All transactions\s+p95\s+<\+100%/);
  const summary = JSON.parse(readFileSync(join(slow.results, 'summary.json'), 'utf8')) as { thresholds: { results: { detail: string }[] } };
  assert.match(summary.thresholds.results[0]!.detail, /against the baseline's/);

  const none = await workloadProject(config({ thresholds: { p95: '<+10%' } }), script(20));
  const r3 = await oct(['run', none.dir, '--no-progress', '--results-dir', none.results]);
  assert.equal(r3.code, 2);
  assert.match(r3.stdout, /needs one: --baseline RUN/);
  const bad = await oct(['run', none.dir, '--no-progress', '--results-dir', none.results, '--baseline', 'no-such-run']);
  assert.equal(bad.code, 2);
  assert.match(bad.stdout, /oct: baseline: no-such-run: no such results folder/);
});
