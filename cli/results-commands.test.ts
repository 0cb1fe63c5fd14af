// oct report, rebuild-results, results-to-csv and runs, run as a user runs them: `node bin/oct.js`
// in a child process, against a Postgres server and against a results folder's embedded database.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { type GenResult, insertResults } from '../test/support/results-data.ts';
import { ExitCode } from '../common/exit-codes.ts';

const OCT = resolve('bin/oct.js');
let db: TestDatabase;
let tmp: string;

function oct(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = { ...process.env, ...opts.env };
    if (!opts.env?.OCT_DATABASE_URL) delete env.OCT_DATABASE_URL;
    execFile(process.execPath, [OCT, ...args], { cwd: opts.cwd ?? tmp, env, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function rows(n: number, start = 0): GenResult[] {
  return Array.from({ length: n }, (_, i) => ({
    turretUuid: `u${i % 2}`,
    turretName: i % 2 ? 'navigation' : 'random',
    elapsed: start + (i / n) * 10,
    epoch: 1_700_000_000 + i / 100,
    scriptrunTime: 0.01 + (i % 10) / 100,
    error: i % 10 === 0 ? (i % 20 === 0 ? 'boom; with "quotes"' : 'line\nbreak') : null,
    customTimers: (i % 3 === 0 ? { second: i / 1000 } : i % 3 === 1 ? { first: 0.5, second: 0.25 } : {}) as Record<string, number>,
  }));
}

async function seed(store: Store, config: unknown, n: number): Promise<number> {
  const run = await store.createRun({ name: 'seeded', config, hqId: null });
  await store.updateRun(run.id, { state: 'finished', startedAt: new Date('2025-01-01T00:00:00Z'), endedAt: new Date('2025-01-01T00:00:10Z') });
  // The first row carries "first" only at elapsed 0.001; "second" appears at 0: so the column order is second, first.
  const data = rows(n);
  data[0] = { ...data[0]!, customTimers: { second: 0.1 } };
  data[1] = { ...data[1]!, elapsed: 0.001, customTimers: { first: 0.2 } };
  await insertResults(store, run.id, data);
  return run.id;
}

before(async () => {
  db = await createTestDatabase();
  tmp = mkdtempSync(join(tmpdir(), 'oct-results-cmd-'));
});
after(async () => {
  await db?.drop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('commands against a Postgres server: runs, report, thresholds exit code and JUnit, CSV', async () => {
  const store = await openStore({ databaseUrl: db.url, log: memoryLogger('warn') });
  const config = { run_time: 10, results_ts_interval: 2, thresholds: { p95: '<1s', error_rate: '<1%' } };
  const runId = await seed(store, config, 3000);
  const older = await store.createRun({ name: 'never-started', config, hqId: null });
  await store.close();

  const runs = await oct(['runs', '--database-url', db.url]);
  assert.equal(runs.code, 0, runs.stderr);
  assert.match(runs.stdout, new RegExp(`\\b${runId}\\s+seeded\\s+finished.*\\b3000\\s+300\\b`));
  assert.match(runs.stdout, new RegExp(`\\b${older.id}\\s+never-started\\s+waiting`));

  // Latest finished run by default; thresholds not asked to be checked: exit 0 even though one fails.
  const out = join(tmp, 'pg-report');
  const rep = await oct(['report', '--out', out], { env: { OCT_DATABASE_URL: db.url } });
  assert.equal(rep.code, ExitCode.OK, rep.stderr);
  assert.match(rep.stdout, /transactions: 3000\nerrors: 300 \(10\.00%\)/);
  assert.match(rep.stdout, /FAIL\s+All transactions\s+error_rate\s+<1%\s+10%/);
  assert.ok(existsSync(join(out, 'results.html')) && existsSync(join(out, 'summary.json')));
  assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).run.id, runId);

  const junit = join(tmp, 'junit', 'thresholds.xml');
  const judged = await oct(['report', '--database-url', db.url, '--run', String(runId), '--out', out, '--check-thresholds', '--junit', junit]);
  assert.equal(judged.code, ExitCode.THRESHOLDS_FAILED, judged.stderr);
  const xml = readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuite name="oct thresholds" tests="2" failures="1"/);
  assert.equal(xml.match(/<testcase /g)?.length, 2);

  const missing = await oct(['report', '--database-url', db.url, '--run', '9999', '--out', out]);
  assert.equal(missing.code, ExitCode.INVALID_INPUT);
  assert.match(missing.stderr, /no run 9999/);
  const nowhere = await oct(['report', '--out', out]);
  assert.equal(nowhere.code, ExitCode.INVALID_INPUT);

  const csvFile = join(tmp, 'r.csv');
  const csv = await oct(['results-to-csv', '--database-url', db.url, '--run', String(runId), '--out', csvFile]);
  assert.equal(csv.code, 0, csv.stderr);
  const text = readFileSync(csvFile, 'utf8');
  const lines = text.split('\n');
  assert.equal(lines[0], 'elapsed;epoch;turret_name;scriptrun_time;error;second;first');
  assert.equal(lines[1], '0;1700000000;random;0.01;"boom; with ""quotes""";0.1;');
  assert.equal(lines[2], '0.001;1700000000.01;navigation;0.02;;;0.2');
  // 3000 rows + header; one error holds a line break inside quotes, 150 times.
  assert.equal(lines.length - 1 /* trailing newline */ - 150, 3001);

  const comma = await oct(['results-to-csv', '--database-url', db.url, '--run', String(runId), '--delimiter', ',']);
  assert.equal(comma.code, 0, comma.stderr);
  assert.ok(comma.stdout.startsWith('elapsed,epoch,turret_name,scriptrun_time,error,second,first\n0,1700000000,random,0.01,"boom; with ""quotes""",0.1,\n'));
});

test('rebuild-results from a results folder (embedded database), from another working directory', async () => {
  const dir = join(tmp, 'demo', 'results', 'results_2025.01.01_00.00.00');
  const store = await openStore({ embeddedDir: join(dir, 'db'), log: memoryLogger('warn') });
  await seed(store, { run_time: 10, results_ts_interval: 5 }, 500);
  await store.close();
  // The folder's config.json wins over the stored one (the original's rebuild read it).
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ run_time: 10, results_ts_interval: 1, thresholds: { p99: '<1ms' } }));

  const ok = await oct(['rebuild-results', dir], { cwd: '/' });
  assert.equal(ok.code, ExitCode.OK, ok.stderr);
  assert.match(ok.stdout, /transactions: 500/);
  assert.match(ok.stdout, new RegExp(`created: ${join(dir, 'results.html').replace(/[.]/g, '\\.')}`));
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  assert.equal(summary.series[0].bins.length, 10, "bins of the folder config's 1 s interval");

  const judged = await oct(['rebuild-results', dir, '--check-thresholds', '--junit', join(tmp, 'embedded.xml')], { cwd: '/' });
  assert.equal(judged.code, ExitCode.THRESHOLDS_FAILED, judged.stderr);
  assert.match(readFileSync(join(tmp, 'embedded.xml'), 'utf8'), /failures="1"/);

  const csv = await oct(['results-to-csv', dir], { cwd: '/' });
  assert.equal(csv.code, 0, csv.stderr);
  assert.equal(csv.stdout.split('\n')[0], 'elapsed;epoch;turret_name;scriptrun_time;error;second;first');

  const none = await oct(['rebuild-results', join(tmp, 'nothing-here')]);
  assert.equal(none.code, ExitCode.INVALID_INPUT);
  assert.match(none.stderr, /no embedded results database/);
});

test('every results command has help with an example', async () => {
  for (const cmd of ['report', 'rebuild-results', 'results-to-csv', 'runs']) {
    const r = await oct([cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:/, cmd);
  }
});
