// A turret process SIGKILLed mid-run is marked lost within 3 s (2.5 of its 1 s heartbeats), and
// the run goes on with the others to a normal finish.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Hq } from '../../hq/hq.ts';
import { hqFixture } from '../support/hq-fixture.ts';
import { startOct } from '../support/processes.ts';
import { until } from '../support/until.ts';

const fx = hqFixture();

const SCRIPT = `
export class Transaction {
  async run() { await new Promise((r) => setTimeout(r, 5)); }
}
`;

test('a SIGKILLed turret is lost within 3 s; the run continues and finishes', { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oct-loss-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'v_user.ts'), SCRIPT);
  const hq = await Hq.bind(fx.options({ min_turrets: 2, run_time: 10, turrets_wait_timeout: 30 }));
  const procs = ['keeps', 'dies'].map((name) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        name,
        canons: 2,
        rampup: 0,
        script: 'v_user.ts',
        hq_address: '127.0.0.1',
        hq_publisher: hq.endpoints.publishPort,
        hq_rc: hq.endpoints.resultsPort,
      }),
    );
    return { name, ...startOct(['turret', '--config', file], 60_000) };
  });
  try {
    const outcome = hq.run();
    const state = (name: string) => hq.status().turrets.find((t) => t.name === name)?.state;
    await until(() => state('dies') === 'running' && state('keeps') === 'running', 30_000, 'both turrets running');
    await new Promise((r) => setTimeout(r, 1500));
    const victim = procs.find((p) => p.name === 'dies')!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await until(() => state('dies') === 'lost', 5_000, 'the killed turret marked lost');
    const after = (Date.now() - killedAt) / 1000;
    assert.ok(after <= 3, `lost after ${after.toFixed(2)} s`);
    assert.equal(state('keeps'), 'running', 'no false alarm for the live one');
    const o = await outcome;
    assert.equal(o.state, 'finished', o.error ?? '');
    assert.equal(o.turrets.find((t) => t.name === 'keeps')?.state !== 'lost', true);
    assert.equal(await fx.storedRows(o.runId), o.transactions, 'every result received is stored');
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.done));
    await hq.close();
  }
});
