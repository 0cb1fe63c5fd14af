// The whole report path on a real store: generateReport writes results.html and summary.json, and
// headless Chromium opens the page offline: no console errors, every chart drawn, hostile names
// shown as text and never run. The screenshot is kept in test-artifacts/report.png for humans.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { memoryLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { generateReport } from './generate.ts';
import { inlineJson } from './render.ts';
import { mulberry32 } from '../test/support/random.ts';
import { type GenResult, insertResults } from '../test/support/results-data.ts';
import { missingTools } from '../test/support/system-tools.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/support/chromium.ts';

const run = promisify(execFile);
const XSS_TIMER = '<script>document.documentElement.setAttribute("data-pwned","timer");document.title="pwned"</script>';
const XSS_ERROR = '</script><script>document.documentElement.setAttribute("data-pwned","error")</script><!-- \u2028\u2029';
const XSS_IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">";
const XSS_TURRET = '<b onmouseover=alert(1)>evil</b>';

let db: TestDatabase;
let store: Store;
let tmp: string;
before(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, log: memoryLogger('warn') });
  tmp = mkdtempSync(join(tmpdir(), 'oct-report-'));
});
after(async () => {
  await store?.close();
  await db?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function seedRun(): Promise<number> {
  const config = { run_time: 60, results_ts_interval: 5, thresholds: {} };
  const info = await store.createRun({ name: 'demo', config, hqId: null });
  const start = new Date('2025-03-01T10:00:00Z');
  await store.updateRun(info.id, { state: 'finished', startedAt: start, endedAt: new Date(start.getTime() + 61_000) });
  const rnd = mulberry32(42);
  const rows: GenResult[] = [];
  for (let i = 0; i < 6000; i++) {
    const elapsed = (i / 6000) * 60;
    if (elapsed > 30 && elapsed < 36) continue; // a stall: empty bins in the middle
    const turret = i % 3 === 0 ? XSS_TURRET : i % 3 === 1 ? 'navigation' : 'random';
    const base = 0.04 + 0.03 * Math.sin(elapsed / 8) ** 2;
    rows.push({
      turretUuid: `uuid-${i % 3}`,
      turretName: turret,
      elapsed,
      epoch: start.getTime() / 1000 + elapsed,
      scriptrunTime: base + -Math.log(1 - rnd()) * 0.02,
      error: i % 50 === 0 ? (i % 100 === 0 ? XSS_ERROR : XSS_IMG) : i % 77 === 0 ? 'HTTP 503 Service Unavailable' : null,
      customTimers: { Example_Timer: base / 2 + rnd() * 0.01, ...(i % 4 === 0 ? { [XSS_TIMER]: rnd() * 0.2 } : {}) },
    });
  }
  await insertResults(store, info.id, rows);
  const turrets: [string, string, [string, number, string | null][]][] = [
    [
      'uuid-0',
      XSS_TURRET,
      [
        ['ready', 0, null],
        ['running', 0.5, null],
        ['lost', 31, 'silent for 10 s'],
      ],
    ],
    [
      'uuid-1',
      'navigation',
      [
        ['ready', 0, null],
        ['running', 0.5, null],
        ['ready', 60.5, null],
      ],
    ],
    [
      'uuid-2',
      'random',
      [
        ['ready', 0, null],
        ['running', 0.5, null],
        ['aborted', 45, 'TypeError: boom'],
      ],
    ],
  ];
  for (const [uuid, name, changes] of turrets) {
    const last = changes[changes.length - 1]!;
    await store.upsertTurret(info.id, {
      uuid,
      name,
      canons: 10,
      rampup: 0,
      script: 'test_scripts/v_user.ts',
      state: last[0] as never,
      firstSeen: start,
      lastSeen: new Date(start.getTime() + last[1] * 1000),
    });
    for (const [state, at, reason] of changes) {
      await store.recordStatusChange(info.id, { uuid, name, state: state as never, rawStatus: state, reason, at: new Date(start.getTime() + at * 1000) });
    }
  }
  return info.id;
}

test('inline JSON cannot close its script element', () => {
  const s = inlineJson({ a: '</script><!-- \u2028\u2029 & >' });
  assert.ok(!/<\/script|<!--|\u2028|\u2029/i.test(s));
  assert.deepEqual(JSON.parse(s), { a: '</script><!-- \u2028\u2029 & >' });
});

test('report: files, artifact, and a page that renders offline with every chart and no script injection', {
  skip: !existsSync(CHROMIUM) && !process.env.CI && 'no chromium (CI installs it and never skips)',
}, async () => {
  const runId = await seedRun();
  const outDir = join(tmp, 'out');
  const report = await generateReport({
    store,
    runId,
    outDir,
    config: { run_time: 60, results_ts_interval: 5, thresholds: { p95: '<500ms', error_rate: '<1%', Example_Timer: { p99: '<2s' } } },
    log: memoryLogger('warn'),
  });
  assert.equal(report.htmlPath, resolve(outDir, 'results.html'));
  const summary = JSON.parse(readFileSync(report.summaryPath, 'utf8'));
  assert.equal(summary.totals.transactions, report.summary.totals.transactions);
  // Both timers first appear at elapsed 0: ties go by name.
  assert.deepEqual(
    summary.series.map((s: { name: string }) => s.name),
    ['All transactions', XSS_TIMER, 'Example_Timer'],
  );
  assert.equal(report.thresholds.passed, false, 'error rate is 2%+, so error_rate <1% fails');
  assert.deepEqual(
    report.thresholds.results.map((r) => [r.key, r.passed]),
    [
      ['p95', true],
      ['error_rate', false],
      ['Example_Timer.p99', true],
    ],
  );
  const artifact = await store.getArtifact(runId, 'results.html');
  assert.equal(artifact?.toString(), readFileSync(report.htmlPath, 'utf8'));

  const html = readFileSync(report.htmlPath, 'utf8');
  assert.ok(!/(src|href)=["']?(https?:)?\/\//i.test(html), 'no external resources');
  // Exactly our script elements: the chart library, the shared chart code, the data and the page's code.
  assert.equal(html.match(/<script/gi)?.length, 4);

  const url = `file://${report.htmlPath}`;
  const { chromium } = await import('playwright-core');
  const missing = missingTools([{ bin: CHROMIUM, pkg: 'chromium' }]);
  if (missing) throw new Error(missing);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 2600 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.documentElement.hasAttribute('data-charts-drawn'));
    assert.deepEqual(errors, [], 'no console errors');
    // Zero network: the only request is the file itself (the chart library is inline).
    assert.deepEqual(requests, [url]);
    const dom = await page.content();
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync(join('test-artifacts', 'report-dom.html'), dom);
    assert.equal(await page.title(), 'oct report — demo');
    // The payloads would mark the root element; their text is on the page, their effect is not.
    assert.equal(await page.getAttribute('html', 'data-pwned'), null);
    assert.doesNotMatch(dom, /<img src="x"/);
    assert.doesNotMatch(dom, /<b onmouseover/);
    assert.ok(dom.includes('&lt;script&gt;document.documentElement.setAttribute'), 'timer name shown as text');
    assert.ok(dom.includes('&lt;img src=x onerror='), 'error message shown as text');
    assert.ok(dom.includes('&lt;b onmouseover=alert(1)&gt;evil&lt;/b&gt;'), 'turret name shown as text');
    // Every chart drawn by uPlot: 3 series × 4 charts, each a canvas with its legend.
    assert.equal(await page.getAttribute('html', 'data-charts-drawn'), '12');
    assert.equal(await page.locator('[data-chart][data-uplot=drawn] canvas').count(), 12);
    assert.equal(await page.locator('[data-chart][data-uplot=empty]').count(), 0);
    // Hover values: moving over the first latency chart fills its legend with numbers.
    const first = page.locator('section.series [data-chart=latency] .u-over').first();
    const box = (await first.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const legend = await page.locator('section.series [data-chart=latency] .u-legend').first().innerText();
    assert.match(legend, /p95\s*[\d.]+ ms/, `hover values in the legend: ${legend}`);
    // Series toggles: clicking a legend entry hides that series.
    await page.locator('section.series [data-chart=latency] .u-legend .u-series').nth(2).click();
    assert.equal(await page.locator('section.series [data-chart=latency] .u-legend .u-series.u-off').first().count(), 1);
    // Zoom: dragging over a range narrows the time axis.
    const before = await page.evaluate(
      () => (window as unknown as { OctCharts: { all: { plot: { scales: { x: { min: number; max: number } } } }[] } }).OctCharts.all[0]!.plot.scales.x,
    );
    await page.mouse.move(box.x + box.width * 0.3, box.y + 40);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + 40, { steps: 5 });
    await page.mouse.up();
    const after = await page.evaluate(
      () => (window as unknown as { OctCharts: { all: { plot: { scales: { x: { min: number; max: number } } } }[] } }).OctCharts.all[0]!.plot.scales.x,
    );
    assert.ok(after.max - after.min < (before.max - before.min) * 0.5, `zoomed: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
    // Status changes, including the lost and aborted turrets, with their times.
    assert.match(dom, /lost<\/span> <span class="at">\+31 s<\/span> — silent for 10 s/);
    assert.match(dom, /aborted<\/span> <span class="at">\+45 s<\/span> — TypeError: boom/);
    const png = resolve('test-artifacts', 'report.png');
    await page.screenshot({ path: png, fullPage: true });
    assert.ok(readFileSync(png).length > 20_000, 'a screenshot with content');
  } finally {
    await browser.close();
  }
});

test('a project template overrides the default one', async () => {
  const info = await store.createRun({ name: 'custom', config: {}, hqId: null });
  const project = join(tmp, 'project');
  mkdirSync(join(project, 'templates'), { recursive: true });
  writeFileSync(
    join(project, 'templates', 'report.html'),
    '<html><body>custom {{summary.totals.transactions}} {{#each summary.series}}[{{name}}]{{/each}}</body></html>',
  );
  const report = await generateReport({
    store,
    runId: info.id,
    outDir: join(tmp, 'custom'),
    projectDir: project,
    config: { run_time: 10, results_ts_interval: 5, thresholds: {} },
    log: memoryLogger('warn'),
  });
  assert.equal(readFileSync(report.htmlPath, 'utf8'), '<html><body>custom 0 [All transactions]</body></html>');
  assert.equal(report.thresholds.passed, true);
});
