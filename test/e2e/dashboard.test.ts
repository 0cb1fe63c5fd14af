// The live dashboard during a real `oct run` with two local turrets, driven in Debian's headless
// Chromium: the page's numbers match /status within one update; control endpoints refuse a missing
// or wrong token (401), a malformed body (400) and an oversized one (413) and nothing changes; the
// page's "Set target" changes the planned rate through the plan; its stop button (with the token
// from the printed URL) stops the run early; the finished page shows the report; the actions are
// stored with the run and listed in the report. Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { OCT_BIN } from '../support/processes.ts';
import { until } from '../support/until.ts';
import { workloadProject } from '../support/workload-project.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../support/chromium.ts';

const SCRIPT = `export class Transaction {
  customTimers = {};
  constructor(ctx) { this.ctx = ctx; }
  async run() { await this.ctx.timer('Example_Timer', () => new Promise((r) => setTimeout(r, 20 + Math.random() * 20))); }
}
`;

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: { error?: string } }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as { error?: string } };
}

test('dashboard: live numbers, token-guarded control, stop from the page, final report', {
  skip: !existsSync(CHROMIUM) && !process.env.CI && 'no chromium (CI installs it and never skips)',
  timeout: 180_000,
}, async () => {
  const project = await workloadProject(
    {
      run_time: 90,
      model: 'open',
      rate: 20,
      // Headless Chromium shares the machine's two cores with the turrets here: a late second or two
      // is not what this test is about (the saturation test judges validity).
      validity: { max_bad_seconds_ratio: 0.5 },
      stop_grace: 5,
      turrets: [
        { name: 'alpha', canons: 2, max_canons: 20, rampup: 0, script: 'v_user.ts' },
        { name: 'beta', canons: 2, max_canons: 20, rampup: 0, script: 'v_user.ts' },
      ],
    },
    SCRIPT,
  );
  const child = spawn(process.execPath, [OCT_BIN, 'run', project.dir, '--no-progress', '--results-dir', project.results], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    await until(() => /dashboard: (http:\S+)/.test(stdout), 60_000, `the dashboard URL in oct run's output:\n${stdout}\n${stderr}`);
    const url = /dashboard: (http:\S+)/.exec(stdout)![1]!;
    const token = /#token=(\S+)/.exec(url)![1]!;
    const base = url.replace(/\/#token=.*$/, '');
    const status = async () =>
      (await (await fetch(`${base}/status`)).json()) as {
        progress: { state: string; transactions: number };
        turrets: { uuid?: string; name: string }[];
        redacted?: string;
      };

    const page = await browser.newPage({ viewport: { width: 1400, height: 1500 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    await page.goto(url);
    // The token moved from the URL into the (password) field.
    assert.equal(await page.inputValue('#token'), token);
    assert.doesNotMatch(page.url(), /token/);
    await page.waitForFunction(() => document.getElementById('run-state')?.textContent === 'running', null, { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.getElementById('kpi-transactions')?.getAttribute('data-value')) > 40, null, { timeout: 30_000 });
    assert.equal(await page.getAttribute('html', 'data-charts'), '4');

    // Within one update: right after the page takes an update, /status is at most ~1 s of results ahead.
    for (let i = 0; i < 3; i++) {
      const before = Number(await page.getAttribute('html', 'data-updates'));
      await page.waitForFunction((n) => Number(document.documentElement.getAttribute('data-updates')) > n, before, { timeout: 5_000 });
      const shown = Number(await page.getAttribute('#kpi-transactions', 'data-value'));
      const s = await status();
      assert.ok(s.progress.transactions >= shown, `status ${s.progress.transactions} >= page ${shown}`);
      assert.ok(s.progress.transactions - shown <= 20 * 1.5 + 5, `status ${s.progress.transactions} within one update of the page's ${shown}`);
    }
    const tableTurrets = await page.$$eval('#turrets-table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(tableTurrets.sort(), ['alpha', 'beta']);

    // Read-only /status without the token: no turret uuids.
    const open = await status();
    assert.ok(open.redacted);
    assert.ok(open.turrets.every((t) => t.uuid === undefined));
    const full = (await (await fetch(`${base}/status`, { headers: { authorization: `Bearer ${token}` } })).json()) as { turrets: { uuid?: string }[] };
    assert.ok(full.turrets.every((t) => typeof t.uuid === 'string' && t.uuid.length > 0));

    // Refused control: nothing changes.
    assert.equal((await post(`${base}/control/stop`, '{}')).status, 401);
    assert.equal((await post(`${base}/control/stop`, '{}', { authorization: 'Bearer not-the-token-at-all' })).status, 401);
    assert.equal((await post(`${base}/control/target`, '{"target": 5}', { 'x-oct-token': `${token}x` })).status, 401);
    const auth = { authorization: `Bearer ${token}` };
    const malformed = await post(`${base}/control/target`, '{"target": ', auth);
    assert.equal(malformed.status, 400);
    assert.match(malformed.json.error!, /not JSON/);
    const badKey = await post(`${base}/control/target`, '{"target": 5, "turret": "alpha"}', auth);
    assert.equal(badKey.status, 400);
    assert.match(badKey.json.error!, /turret: unknown key/);
    assert.equal((await post(`${base}/control/target`, '{"target": -1}', auth)).status, 400);
    const big = await post(`${base}/control/stop`, JSON.stringify({ reason: 'x'.repeat(10_000) }), auth);
    assert.equal(big.status, 413);
    assert.match(big.json.error!, /larger than 4096 bytes/);
    assert.equal((await fetch(`${base}/control/stop`)).status, 405);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await status()).progress.state, 'running', 'still running after every refused request');
    assert.equal(await page.$$eval('#control-table tbody tr', (r) => r.length), 0, 'no action recorded');

    // A new target from the page, through the plan.
    await page.fill('#target', '40');
    await page.click('#target-button');
    await page.waitForFunction(() => /done: target/.test(document.getElementById('control-result')?.textContent ?? ''), null, { timeout: 10_000 });
    await page.waitForFunction(() => /target 40 iterations\/s/.test(document.getElementById('kpi-target')?.textContent ?? ''), null, { timeout: 5_000 });
    mkdirSync('test-artifacts', { recursive: true });
    // Let the new rate show on the throughput chart before the screenshot.
    await page.waitForFunction(() => Number(document.getElementById('kpi-rate')?.getAttribute('data-value')) > 30, null, { timeout: 20_000 });
    await page.screenshot({ path: resolve('test-artifacts', 'dashboard-running.png'), fullPage: true });

    // Stop from the page (the token came with the URL).
    const stoppedAt = Date.now();
    await page.click('#stop-button');
    await page.waitForFunction(() => /done: stop/.test(document.getElementById('control-result')?.textContent ?? ''), null, { timeout: 10_000 });
    await page.waitForFunction(() => document.documentElement.getAttribute('data-report') === 'shown', null, { timeout: 60_000 });
    const code = await exited;
    assert.equal(code, 0, `oct run exit code\n${stdout}\n${stderr}`);
    assert.ok(Date.now() - stoppedAt < 40_000, 'the run ended soon after the stop, not at run_time');
    const frame = page.frameLocator('#report-frame');
    await frame.locator('#control-actions').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: resolve('test-artifacts', 'dashboard-finished.png'), fullPage: false });
    assert.deepEqual(consoleErrors, [], 'no console errors');

    const store = await openStore({ embeddedDir: join(project.results, 'db'), log: createLogger() });
    try {
      const [run] = await store.listRuns();
      const actions = await store.listControlActions(run!.id);
      assert.deepEqual(
        actions.map((a) => [a.action, a.by]),
        [
          ['target', 'dashboard'],
          ['stop', 'dashboard'],
        ],
      );
      assert.equal(actions[0]!.detail.to, 40);
      assert.equal(actions[0]!.detail.from, 20);
      assert.ok(actions[1]!.elapsed < 80);
    } finally {
      await store.close();
    }
    const html = readFileSync(join(project.results, 'results.html'), 'utf8');
    assert.match(html, /id="control-actions"/);
  } finally {
    await browser.close();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
