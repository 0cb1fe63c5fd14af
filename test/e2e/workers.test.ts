// A turret on several cores (`oct turret --workers 2`) and a local entry with `replicas`: each
// process is a turret of its own under the entry's name; every result of every one is stored
// once, and SIGTERM to the parent flushes every worker.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Hq } from '../../hq/hq.ts';
import { hqFixture } from '../support/hq-fixture.ts';
import { startOct } from '../support/processes.ts';
import { until } from '../support/until.ts';
import { workloadProject } from '../support/workload-project.ts';
import { oct } from '../support/processes.ts';

const fx = hqFixture();

const SCRIPT = `export class Transaction {
  customTimers = {};
  async run() { await new Promise((r) => setTimeout(r, 5)); }
}
`;

test('--workers 2: two turrets sharing the canons, every result stored once, SIGTERM flushes both', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oct-workers-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'v_user.ts'), SCRIPT);
  const hq = await Hq.bind(fx.options({ min_turrets: 2, run_time: 60, turrets_wait_timeout: 30 }));
  const file = join(dir, 'turret.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: 'multi',
      canons: 5,
      rampup: 0,
      script: 'v_user.ts',
      hq_address: '127.0.0.1',
      hq_publisher: hq.endpoints.publishPort,
      hq_rc: hq.endpoints.resultsPort,
    }),
  );
  const proc = startOct(['turret', '--config', file, '--workers', '2', '-v'], 60_000);
  try {
    const outcome = hq.run();
    const running = () => hq.status().turrets.filter((t) => t.name === 'multi' && t.state === 'running');
    await until(() => running().length === 2, 30_000, 'both workers running');
    await new Promise((r) => setTimeout(r, 2_000));
    proc.child.kill('SIGTERM');
    const { code, out } = await proc.done;
    assert.equal(code, 0, out);
    const shares = [...out.matchAll(/ ready .*canons=(\d+)/g)].map((m) => Number(m[1])).sort();
    assert.deepEqual(shares, [2, 3], `the canons are shared out:\n${out}`);
    const o = await outcome;
    const multi = o.turrets.filter((t) => t.name === 'multi');
    assert.equal(multi.length, 2);
    assert.deepEqual(
      multi.map((t) => t.state),
      ['killed', 'killed'],
      'each worker flushed and said goodbye, none was lost',
    );
    assert.ok(o.transactions > 100, `${o.transactions} transactions`);
    assert.equal(await fx.storedRows(o.runId), o.transactions, 'every result of both workers stored once');
    assert.equal(o.duplicates + o.missingBatches, 0);
  } finally {
    proc.child.kill('SIGKILL');
    await hq.close();
  }
});

test('--workers with a bad value: exit 2 naming the flag', async () => {
  const r = await oct(['turret', '--config', 'x.json', '--workers', 'lots']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--workers: expected a number from 1 to 256 or "auto", got "lots"/);
});

test('oct run starts every replica of an entry: two processes under one name, all stored', { timeout: 90_000 }, async () => {
  const p = await workloadProject({ run_time: 3, turrets: [{ name: 'twice', canons: 2, rampup: 0, replicas: 2, script: 'v_user.ts' }] }, SCRIPT);
  const r = await oct(['run', p.dir, '--results-dir', p.results, '--no-progress'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const s = p.summary() as unknown as { totals: { transactions: number }; turrets: { name: string }[] };
  assert.equal(s.turrets.filter((t) => t.name === 'twice').length, 2, JSON.stringify(s.turrets));
  assert.equal(await p.storedRows(), s.totals.transactions);
});
