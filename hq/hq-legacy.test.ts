// The original turret's stand-in (Python, unchanged protocol quirks) runs a whole test against our
// HQ: every iteration it counted is stored, its statuses are recorded, it is stopped cleanly.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { parseProjectConfig } from '../protocol/config.ts';
import { openPostgresStore } from '../store/postgres.ts';
import { createTestDatabase } from '../test/support/postgres.ts';
import { generateReport } from '../report/generate.ts';
import { Hq } from './hq.ts';
import { simpleSink } from '../test/support/simple-sink.ts';

const PYTHON = '/usr/bin/python3';
// shared/ lies beside the checkout (CI clones main next to a copy of it); /work/shared is where a
// session's checkout finds it.
const LEGACY =
  [join(import.meta.dirname, '..', '..', 'shared', 'legacy-turret', 'legacy_turret.py'), '/work/shared/legacy-turret/legacy_turret.py'].find((p) =>
    existsSync(p),
  ) ?? 'shared/legacy-turret/legacy_turret.py (not found beside the checkout)';
const hasPythonZmq = existsSync(LEGACY) && spawnSync(PYTHON, ['-c', 'import zmq']).status === 0;

const SCRIPT = `
import random
import time

class Transaction(object):
    def __init__(self, config, context):
        self.context = context

    def setup(self):
        pass

    def run(self):
        time.sleep(random.uniform(0.005, 0.02))
        if random.random() < 0.1:
            raise Exception("unlucky")
        self.custom_timers["Example_Timer"] = 0.01

    def tear_down(self):
        pass
`;

test('the legacy Python turret runs a whole test against the HQ', {
  skip: !hasPythonZmq && !process.env.CI && 'needs /usr/bin/python3 with Debian python3-zmq',
}, async () => {
  assert.ok(existsSync(LEGACY), `the legacy turret is missing: ${LEGACY}`);
  assert.equal(
    spawnSync(PYTHON, ['-c', 'import zmq']).status,
    0,
    `${PYTHON} cannot import zmq (Debian package python3-zmq; scripts/install-system-deps.sh installs it)`,
  );
  const db = await createTestDatabase();
  const log = memoryLogger('info');
  const store = await openPostgresStore(db.url, log);
  await store.migrate();
  const dir = mkdtempSync(join(tmpdir(), 'oct-legacy-'));
  const hq = await Hq.bind({
    config: parseProjectConfig({
      publish_port: 0,
      rc_port: 0,
      min_turrets: 1,
      run_time: 3,
      stop_grace: 8,
      turrets_wait_timeout: 15,
      transaction_context: { who: 'hq' },
    }),
    store,
    runName: 'legacy',
    log,
    bindHost: '127.0.0.1',
    spillDir: dir,
    createSink: process.env.OCT_HQ_TEST_SIMPLE_SINK ? (s, id) => simpleSink(s, id) : undefined,
  });
  writeFileSync(join(dir, 'v_user.py'), SCRIPT);
  writeFileSync(
    join(dir, 'turret.json'),
    JSON.stringify({
      name: 'navigation',
      canons: 3,
      rampup: 0,
      script: 'v_user.py',
      hq_address: '127.0.0.1',
      hq_publisher: hq.endpoints.publishPort,
      hq_rc: hq.endpoints.resultsPort,
    }),
  );
  const countFile = join(dir, 'count');
  const turret = spawn(PYTHON, [LEGACY, join(dir, 'turret.json'), '--count-file', countFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  turret.stderr.on('data', (d) => (stderr += d));
  try {
    const o = await hq.run();
    assert.equal(o.state, 'finished', `${o.error} ${stderr}`);
    const counted = existsSync(countFile) ? readFileSync(countFile, 'utf8').split('\n').filter(Boolean).length : 0;
    assert.ok(counted > 50, `the turret ran (${counted} iterations)`);
    const [row] = await store.sql.query<{ n: number; named: number; errors: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE turret_name = 'navigation')::int AS named, count(error)::int AS errors FROM results WHERE run_id = $1`,
      [o.runId],
    );
    assert.equal(row!.n, counted, 'every iteration the turret counted is stored');
    assert.equal(row!.named, counted, 'attributed to the only legacy turret');
    assert.equal(o.transactions, counted);
    assert.ok(row!.errors > 0 && row!.errors < counted);
    const statuses = (
      await store.sql.query<{ status: string; raw_status: string }>('SELECT status, raw_status FROM turret_status_changes WHERE run_id = $1 ORDER BY at', [
        o.runId,
      ])
    ).map((r) => r.raw_status);
    assert.deepEqual(statuses, ['ready', 'Running', 'ready']);
    assert.equal(o.turrets[0]!.name, 'navigation');
    assert.equal(turret.exitCode, null, 'still alive, idle, after the stop');
    // Its single results are aggregated by the HQ and reported like an oct turret's.
    const report = await generateReport({
      store,
      runId: o.runId,
      outDir: join(dir, 'report'),
      config: { run_time: 3, results_ts_interval: 1, thresholds: {} },
      log,
    });
    const all = report.summary.series.find((s) => s.total)!;
    assert.match(report.summary.percentiles, /^histogram/);
    assert.equal(all.overall.count, counted);
    assert.equal(all.overall.errors, row!.errors);
    const [timed] = await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM results WHERE run_id = $1 AND custom_timers ? 'Example_Timer'`, [
      o.runId,
    ]);
    assert.equal(report.summary.series.find((s) => s.name === 'Example_Timer')?.overall.count, timed!.n);
    assert.deepEqual(
      report.summary.turretBreakdown.map((t) => [t.name, t.count]),
      [['navigation', counted]],
    );
    assert.ok(all.overall.p50! >= 0.005 && all.overall.p50! <= 0.025, `p50 ${all.overall.p50}`);
  } finally {
    turret.kill('SIGKILL');
    await hq.close();
    await store.close();
    await db.drop();
  }
});
