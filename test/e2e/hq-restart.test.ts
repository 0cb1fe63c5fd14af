// Acknowledged delivery (issue 11): the HQ SIGKILLed mid-run and started again with the same run
// name on Postgres. The turrets re-send what the dead HQ had not stored, the new one takes only
// what the store does not hold, and at the end stored = the turrets' own count of iterations,
// exactly, and the counts the HQ prints are the report's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../support/postgres.ts';
import { startOct } from '../support/processes.ts';
import { until } from '../support/until.ts';
import { turretConfigFile, workloadProject } from '../support/workload-project.ts';

// Fast iterations, so a kill finds rows and aggregates received and not yet committed.
const SCRIPT = `export class Transaction {
  customTimers = {};
  async run() { await new Promise((r) => setTimeout(r, 2)); }
}
`;

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
  await (await openStore({ databaseUrl: db.url, log: createLogger() })).close();
});
after(async () => db?.drop());

const query = <T>(sql: string, params: unknown[] = []) => queryDatabase<T>(db.url, sql, params);

test('an HQ SIGKILLed mid-run and restarted: stored = the turrets’ counted iterations, exactly', { timeout: 150_000 }, async () => {
  const p = await workloadProject({ run_time: 14, min_turrets: 2, turrets_wait_timeout: 30, turret_silence_timeout: 20 }, SCRIPT);
  const hqArgs = [
    'hq',
    '--config',
    join(p.dir, 'config.json'),
    '--run-name',
    'restart-1',
    '--database-url',
    db.url,
    '--work-dir',
    join(p.dir, 'work'),
    '--exit-when-done',
  ];
  const first = startOct(hqArgs, 60_000);
  const turrets = ['a', 'b'].map((name) => startOct(['turret', '--config', turretConfigFile(p, name, { canons: 8 }), '-v'], 120_000));
  const second: { current: ReturnType<typeof startOct> | null } = { current: null };
  try {
    await until(
      async () => (await query<{ s: Date | null }>('SELECT started_at AS s FROM runs WHERE name = $1', ['restart-1']).catch(() => []))[0]?.s != null,
      40_000,
      'the run to start',
    );
    await new Promise((r) => setTimeout(r, 4_000));
    first.child.kill('SIGKILL');
    await first.done;
    const storedAtKill = (await query<{ n: number }>('SELECT count(*)::int AS n FROM results'))[0]!.n;
    second.current = startOct(hqArgs, 90_000);
    const { code, out } = await second.current.done;
    assert.equal(code, 0, out);
    assert.match(out, /resumed/, out);

    for (const t of turrets) t.child.kill('SIGTERM');
    const logs = await Promise.all(turrets.map((t) => t.done));
    const counted = logs.map((l) => {
      const exit = l.out.split('\n').find((line) => / exit /.test(line) && /results=\d+/.test(line));
      assert.ok(exit, `no exit line in the turret's log:\n${l.out.slice(-2000)}`);
      return Number(/results=(\d+)/.exec(exit)![1]);
    });
    const resent = logs.some((l) => /the HQ restarted: sending again what it had not stored/.test(l.out));
    assert.ok(resent, 'a turret re-sent to the new HQ');

    const [run] = await query<{ id: number; state: string }>('SELECT id, state FROM runs WHERE name = $1', ['restart-1']);
    assert.equal(run!.state, 'finished');
    const stored = (await query<{ n: number }>('SELECT count(*)::int AS n FROM results WHERE run_id = $1', [run!.id]))[0]!.n;
    const total = counted[0]! + counted[1]!;
    assert.ok(storedAtKill > 0 && storedAtKill < total, `killed mid-run (${storedAtKill} of ${total} stored then)`);
    assert.equal(stored, total, `stored = counted (turrets: ${counted.join(' + ')})`);
    const printed = Number(/run \d+ finished: (\d+) transactions/.exec(out)?.[1]);
    assert.equal(printed, total, 'the restarted HQ prints the whole run');
    const summary = JSON.parse(readFileSync(join(p.dir, 'work', 'report', 'summary.json'), 'utf8'));
    assert.equal(summary.totals.transactions, total, "the report's count");
    assert.equal(summary.intake.missingBatches, 0, 'every gap the kill left was filled by the re-sent messages');
  } finally {
    for (const proc of [first, second.current, ...turrets]) proc?.child.kill('SIGKILL');
  }
});
