// End to end, as a user runs it: `oct new-project`, then `oct run` with two local turrets for a few
// seconds; every iteration the scripts counted must be a stored row, statuses recorded, summary
// printed, report written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { createTestDatabase } from '../support/postgres.ts';
import { oct } from '../support/processes.ts';

/** A project from `oct new-project`, on free ports, whose script counts its iterations in a file. */
export async function countingProject(opts: { runTime?: number; thresholds?: Record<string, unknown> } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'oct-e2e-'));
  const dir = join(root, 'demo');
  const made = await oct(['new-project', dir]);
  assert.equal(made.code, 0, made.stderr);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  Object.assign(config, { run_time: opts.runTime ?? 3, results_ts_interval: 1, publish_port: 0, rc_port: 0, http_port: 0, progress_bar: false });
  config.thresholds = opts.thresholds ?? {};
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const countDir = join(root, 'counts');
  writeFileSync(
    join(dir, 'test_scripts', 'v_user.ts'),
    `import { appendFileSync, mkdirSync } from 'node:fs';
import type { TransactionContext } from 'oct';
const dir = ${JSON.stringify(countDir)};
mkdirSync(dir, { recursive: true });
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {}
  async run() {
    await this.ctx.timer('Example_Timer', () => new Promise((r) => setTimeout(r, 5 + Math.random() * 10)));
    if (Math.random() < 0.1) throw new Error('planned failure');
  }
  async tearDown() {
    // Counted after run() whether it threw or not: one line per iteration, per turret process.
    appendFileSync(dir + '/' + this.ctx.turret.name, '1\\n');
  }
}
`,
  );
  const counted = () =>
    existsSync(countDir) ? readdirSync(countDir).reduce((n, f) => n + readFileSync(join(countDir, f), 'utf8').split('\n').filter(Boolean).length, 0) : 0;
  return { root, dir, counted };
}

function resultsDirOf(dir: string): string {
  const runs = readdirSync(join(dir, 'results')).filter((d) => d.startsWith('results_'));
  assert.equal(runs.length, 1);
  return join(dir, 'results', runs[0]!);
}

test('oct run: two local turrets on the embedded store, every iteration stored, report written', { timeout: 120_000 }, async () => {
  const p = await countingProject({ runTime: 3 });
  const r = await oct(['run', p.dir]);
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const results = resultsDirOf(p.dir);
  for (const f of ['results.html', 'summary.json', 'config.json']) assert.ok(existsSync(join(results, f)), f);
  assert.match(r.stdout, /transactions: \d+/);
  assert.match(r.stdout, /errors: \d+/);
  assert.match(r.stdout, /security: CURVE on \(keys made for this run; 1 turret key\(s\) trusted\)/, 'a local run uses CURVE by default');
  assert.ok(!existsSync(join(results, 'turrets', 'keys')), "the run's own keys are gone after it");

  const store = await openStore({ embeddedDir: join(results, 'db'), log: createLogger() });
  try {
    const [{ n, errors }] = await store.sql.query<{ n: number; errors: number }>('SELECT count(*)::int AS n, count(error)::int AS errors FROM results');
    const iterations = p.counted();
    assert.ok(iterations > 50, `only ${iterations} iterations`);
    assert.equal(n, iterations, 'stored rows == iterations the scripts counted');
    assert.ok(errors > 0 && errors < n, `planned failures recorded: ${errors}`);
    const names = await store.sql.query<{ turret_name: string }>('SELECT DISTINCT turret_name FROM results ORDER BY 1');
    assert.deepEqual(
      names.map((x) => x.turret_name),
      ['navigation', 'random'],
    );
    const statuses = await store.sql.query<{ name: string; status: string }>('SELECT name, status FROM turret_status_changes ORDER BY at');
    for (const name of ['navigation', 'random']) {
      const mine = statuses.filter((s) => s.name === name).map((s) => s.status);
      assert.ok(mine.includes('ready'), `${name}: ${mine}`);
      assert.ok(mine.includes('running'), `${name}: ${mine}`);
    }
    const summary = JSON.parse(readFileSync(join(results, 'summary.json'), 'utf8'));
    assert.ok(JSON.stringify(summary).includes(String(n)), 'summary.json holds the transaction count');
  } finally {
    await store.close();
  }
});

test('oct run on a Postgres server: rows land there, nothing in the results folder db', { timeout: 120_000 }, async () => {
  const db = await createTestDatabase();
  try {
    const p = await countingProject({ runTime: 2 });
    const r = await oct(['run', p.dir, '--database-url', db.url]);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const store = await openStore({ databaseUrl: db.url, log: createLogger() });
    try {
      const [{ n }] = await store.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM results');
      assert.equal(n, p.counted());
      const runs = await store.listRuns();
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.state, 'finished');
      assert.ok(await store.getArtifact(runs[0]!.id, 'results.html'), 'the report is kept in the database');
    } finally {
      await store.close();
    }
  } finally {
    await db.drop();
  }
});

test('a failing threshold fails the run with exit code 4 and a JUnit file', { timeout: 120_000 }, async () => {
  const p = await countingProject({ runTime: 2, thresholds: { error_rate: '<0.1%', p95: '<10s' } });
  const junit = join(p.root, 'junit.xml');
  const r = await oct(['run', p.dir, '--junit', junit]);
  assert.equal(r.code, 4, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const xml = readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuite/);
  assert.match(xml, /<failure/);
});

test('bad input to oct run: exit 2 naming the key; exit 3 when no turret can start', { timeout: 120_000 }, async () => {
  const p = await countingProject();
  const config = JSON.parse(readFileSync(join(p.dir, 'config.json'), 'utf8'));
  writeFileSync(join(p.dir, 'config.json'), JSON.stringify({ ...config, run_time: 'soon' }));
  const bad = await oct(['run', p.dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /run_time/);

  writeFileSync(join(p.dir, 'config.json'), JSON.stringify({ ...config, thresholds: { p95: 'fast' } }));
  const badThreshold = await oct(['run', p.dir]);
  assert.equal(badThreshold.code, 2, badThreshold.stderr);
  assert.match(badThreshold.stderr + badThreshold.stdout, /p95/);

  writeFileSync(join(p.dir, 'config.json'), JSON.stringify(config));
  writeFileSync(join(p.dir, 'test_scripts', 'v_user.ts'), 'export class Transaction { run( { }');
  const broken = await oct(['run', p.dir], { timeoutMs: 60_000 });
  assert.equal(broken.code, 3, `${broken.stdout}\n${broken.stderr}`);
  assert.match(broken.stdout + broken.stderr, /v_user\.ts/);
});
