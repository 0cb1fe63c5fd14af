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

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
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

async function chromium(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const missing = missingTools([{ bin: CHROMIUM, pkg: 'chromium' }]);
  if (missing) throw new Error(missing);
  const profile = mkdtempSync(join(tmpdir(), 'oct-chromium-'));
  try {
    return await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--enable-logging=stderr',
        '--v=0',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { maxBuffer: 64 * 1024 * 1024, timeout: 45_000 },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
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
  // Exactly our two script elements: the data and the chart code.
  assert.equal(html.match(/<script/gi)?.length, 2);

  const url = `file://${report.htmlPath}`;
  const dom = await chromium(['--dump-dom', '--virtual-time-budget=5000', url]);
  assert.doesNotMatch(dom.stderr, /Uncaught|CONSOLE\(\d+\).*(Error|error)/, `console errors:\n${dom.stderr}`);
  const page = dom.stdout;
  mkdirSync('test-artifacts', { recursive: true });
  writeFileSync(join('test-artifacts', 'report-dom.html'), page);
  assert.match(page, /<title>oct report — demo<\/title>/);
  // The payloads would mark the root element; their text is on the page, their effect is not.
  assert.doesNotMatch(page.match(/<html[^>]*>/)![0], /data-pwned/);
  assert.doesNotMatch(page, /<img src="x"/);
  assert.doesNotMatch(page, /<b onmouseover/);
  // The hostile names are there, as text.
  assert.ok(page.includes('&lt;script&gt;document.documentElement.setAttribute'), 'timer name shown as text');
  assert.ok(page.includes('&lt;img src=x onerror='), 'error message shown as text');
  assert.ok(page.includes('&lt;b onmouseover=alert(1)&gt;evil&lt;/b&gt;'), 'turret name shown as text');
  // Every chart drawn: 3 series × 4 charts, each with marks in it.
  assert.match(page, /data-charts-drawn="12"/);
  const charts = [...page.matchAll(/<svg data-chart="(\w+)"[^>]*>([\s\S]*?)<\/svg>/g)];
  assert.equal(charts.length, 12);
  for (const [, kind, body] of charts) {
    assert.ok(/<(path|rect|circle)\b/.test(body!), `${kind} chart has marks`);
    assert.ok(!body!.includes('no data'), `${kind} chart has data`);
  }
  // Status changes, including the lost and aborted turrets, with their times.
  assert.match(page, /lost<\/span> <span class="at">\+31 s<\/span> — silent for 10 s/);
  assert.match(page, /aborted<\/span> <span class="at">\+45 s<\/span> — TypeError: boom/);

  mkdirSync('test-artifacts', { recursive: true });
  const png = resolve('test-artifacts', 'report.png');
  const shot = await chromium([`--screenshot=${png}`, '--window-size=1400,2600', '--hide-scrollbars', '--virtual-time-budget=5000', url]);
  assert.doesNotMatch(shot.stderr, /Uncaught/);
  assert.ok(readFileSync(png).length > 20_000, 'a screenshot with content');
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
