// What `kubectl scale` does to a running test, at the process level: a second turret process of
// the same entry joins mid-test and is started by the HQ; the first one gets SIGTERM mid-test,
// finishes its in-flight iterations, flushes and reports its final status. Nothing is lost: every
// iteration either process counted is a stored row, and the report shows who joined and left.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, startOct } from '../support/processes.ts';
import { until } from '../support/until.ts';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { generateKeys, writeKeysDir } from '../../common/keys-dir.ts';

test('a turret joins mid-test and another leaves on SIGTERM: both fire, nothing is lost', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oct-scale-'));
  const counts = join(dir, 'counts');
  mkdirSync(join(dir, 'scripts'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(
    join(dir, 'scripts', 'v.ts'),
    `import { appendFileSync, mkdirSync } from 'node:fs';
import type { TransactionContext } from 'oct';
mkdirSync(${JSON.stringify(counts)}, { recursive: true });
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private ctx: TransactionContext) {}
  // Long iterations, so SIGTERM always lands with iterations in flight.
  async run() { await new Promise((r) => setTimeout(r, 150 + Math.random() * 150)); }
  async tearDown() { appendFileSync(${JSON.stringify(counts)} + '/' + this.ctx.turret.uuid, '1\\n'); }
}
`,
  );
  const [pub, rc, http] = [await freePort(), await freePort(), await freePort()];
  // Remote turrets of an HQ on every interface: CURVE, with the keys `oct keys` would make.
  writeKeysDir(join(dir, 'keys'), generateKeys());
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      run_time: 9,
      results_ts_interval: 1,
      progress_bar: false,
      publish_port: pub,
      rc_port: rc,
      http_port: http,
      min_turrets: 1,
      keys_dir: 'keys',
      turrets: [{ name: 'nav', canons: 5, rampup: 0, script: 'scripts/v.ts' }],
    }),
  );
  const turretConfig = join(dir, 'turret.json');
  writeFileSync(
    turretConfig,
    JSON.stringify({ name: 'nav', canons: 5, rampup: 0, script: 'scripts/v.ts', hq_address: '127.0.0.1', hq_publisher: pub, hq_rc: rc, keys_dir: 'keys' }),
  );

  const results = join(dir, 'results');
  const hq = startOct(['run', dir, '--hq-only', '--no-progress', '--results-dir', results]);
  const a = startOct(['turret', '--config', turretConfig, '--uuid', 'turret-a']);
  const status = async () => (await fetch(`http://127.0.0.1:${http}/status`)).json() as Promise<{ progress: { state: string; elapsedSeconds: number } }>;
  await until(async () => (await status().catch(() => null))?.progress.state === 'running', 60_000, 'the test to start');

  const b = startOct(['turret', '--config', turretConfig, '--uuid', 'turret-b']); // joins mid-test
  const uuidCount = () => (existsSync(counts) ? readdirSync(counts).length : 0);
  await until(async () => uuidCount() >= 2, 60_000, 'the late turret to fire');
  await new Promise((r) => setTimeout(r, 1000));
  a.child.kill('SIGTERM'); // leaves mid-test
  const aDone = await a.done;
  assert.equal(aDone.code, 0, aDone.out);
  const hqDone = await hq.done;
  b.child.kill('SIGTERM');
  await b.done;
  assert.equal(hqDone.code, 0, hqDone.out);

  const perTurret = Object.fromEntries(readdirSync(counts).map((f) => [f, readFileSync(join(counts, f), 'utf8').split('\n').filter(Boolean).length]));
  assert.deepEqual(Object.keys(perTurret).sort(), ['turret-a', 'turret-b']);
  const store = await openStore({ embeddedDir: join(results, 'db'), log: createLogger() });
  try {
    const stored = await store.sql.query<{ turret_uuid: string; n: number }>('SELECT turret_uuid, count(*)::int AS n FROM results GROUP BY 1');
    assert.deepEqual(Object.fromEntries(stored.map((r) => [r.turret_uuid, r.n])), perTurret, 'stored rows per turret == iterations each counted');
    const changes = await store.sql.query<{ uuid: string; status: string }>('SELECT uuid, status FROM turret_status_changes ORDER BY at');
    const of = (u: string) => changes.filter((c) => c.uuid === u).map((c) => c.status);
    assert.ok(of('turret-a').includes('running'), `a: ${of('turret-a')}`);
    assert.ok(of('turret-b').includes('running'), `b, started after joining: ${of('turret-b')}`);
    assert.equal(of('turret-a').at(-1), 'killed', `a left with a final status: ${of('turret-a')}`);
  } finally {
    await store.close();
  }
  const summary = JSON.parse(readFileSync(join(results, 'summary.json'), 'utf8'));
  assert.equal(summary.turrets.length, 2);
  const html = readFileSync(join(results, 'results.html'), 'utf8');
  assert.ok(html.includes('turret-a') && html.includes('turret-b'), 'the report lists both turrets');
});
