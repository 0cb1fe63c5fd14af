// Workload models end to end, with the real `oct` binary, turret processes and an HTTP target on
// 127.0.0.1: arrival-rate accuracy in one turret and split over three, latency from the intended
// start against a target with a known stall pattern, a closed-model ramp down, and a saturated
// generator judged INVALID.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { INTENDED_LATENCY_SERIES } from '../../protocol/results.ts';
import { oct, startOct } from '../support/processes.ts';
import { coStallPercentile, type StallServer, startStallServer } from '../support/stall-server.ts';
import { until } from '../support/until.ts';
import { GET_SCRIPT, turretConfigFile, workloadProject } from '../support/workload-project.ts';

const INVALID_RUN = 5;

function seriesOf(summary: ReturnType<Awaited<ReturnType<typeof workloadProject>>['summary']>, name: string) {
  const s = summary.series.find((x) => x.name === name);
  assert.ok(s, `no series "${name}" in ${summary.series.map((x) => x.name).join(', ')}`);
  return s;
}

describe('open model: arrival rate', () => {
  let target: StallServer;
  before(async () => {
    target = await startStallServer({ stallMs: 0, periodMs: 1000 });
  });
  after(() => target.close());

  for (const turrets of [1, 3]) {
    test(`600 iterations/s ${turrets === 1 ? 'in one turret' : 'split over three turrets'}: every second within 1% of target, every iteration stored`, {
      timeout: 90_000,
    }, async () => {
      const entries = Array.from({ length: turrets }, (_, i) => ({ name: `t${i}`, canons: 10, max_canons: 200, rampup: 0, script: 'v_user.ts' }));
      // A one-second ramp first, as users do: the turrets' code runs cold in its first second.
      const stages = [
        { duration: 1, target: 600 },
        { duration: 5, target: 600 },
      ];
      const p = await workloadProject({ model: 'open', stages, min_turrets: turrets, transaction_context: { url: target.url }, turrets: entries }, GET_SCRIPT);
      const r = await oct(['run', p.dir, '--results-dir', p.results, '--no-progress'], { timeoutMs: 80_000 });
      assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      const summary = p.summary();
      assert.equal(summary.verdict, 'PASS', summary.validity.reasons.join('; '));
      const seconds = summary.load!.seconds;
      assert.ok(seconds.length >= 6, `only ${seconds.length} seconds reported`);
      // Second 0 is the ramp; the one the stop lands in (6) is partial.
      for (const s of seconds.filter((x) => x.second >= 1 && x.second < 6)) {
        assert.ok(Math.abs(s.started - 600) <= 6, `second ${s.second}: ${s.started} started, target ${s.target}`);
        assert.ok(Math.abs(s.target - 600) < 1e-6, `second ${s.second}: target ${s.target}`);
        assert.equal(s.dropped, 0, `second ${s.second}: ${s.dropped} dropped`);
      }
      assert.ok(Math.abs(seconds[0]!.target - 300) < 1e-6, `the ramp's second: target ${seconds[0]!.target}`);
      assert.equal(summary.load!.turrets.length, turrets);
      const started = summary.load!.turrets.reduce((a, t) => a + t.started, 0);
      assert.equal(await p.storedRows(), started, 'every iteration started is a stored row');
      assert.equal(summary.totals.transactions, started);
    });
  }
});

describe('open model: latency from the intended start', () => {
  // Away from the start of each second: the first second also holds the turret's start-up.
  const stall = { stallMs: 200, periodMs: 1000, offsetMs: 500 };
  let target: StallServer;
  before(async () => {
    target = await startStallServer(stall);
  });
  after(() => target.close());

  test('a target that stalls 200 ms in every second: the intended-start p90/p99 match the stall pattern, the closed model hides it', {
    timeout: 120_000,
  }, async () => {
    const open = await workloadProject(
      {
        rate: 200,
        run_time: 8,
        min_turrets: 1,
        transaction_context: { url: target.url },
        turrets: [{ name: 'open', canons: 10, max_canons: 100, rampup: 0, script: 'v_user.ts' }],
      },
      GET_SCRIPT,
    );
    const r = await oct(['run', open.dir, '--results-dir', open.results, '--no-progress'], { timeoutMs: 80_000 });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const s = open.summary();
    const intended = seriesOf(s, INTENDED_LATENCY_SERIES).overall;
    const service = seriesOf(s, 'All transactions').overall;
    // Requests go out every 5 ms, so the stall catches 40 of them each second at intended offsets
    // 5 ms apart: the empirical quantiles sit within one step (5 ms) of the analytic ones, plus the
    // answer time of a loopback request (about 1 ms). 10 ms covers both with room for a busy core.
    for (const [q, got] of [
      [0.9, intended.p90],
      [0.99, intended.p99],
    ] as const) {
      const want = coStallPercentile(q, stall) / 1000;
      assert.ok(Math.abs(got - want) <= 0.01, `p${q * 100} from intended start ${(got * 1000).toFixed(1)} ms, analytic ${(want * 1000).toFixed(1)} ms`);
    }
    assert.ok(intended.p50 < 0.01, `p50 from intended start ${intended.p50}`);
    // The service time of the stalled requests is the wait from when they were sent (late): lower.
    assert.equal(intended.count, service.count);

    const closed = await workloadProject(
      {
        run_time: 5,
        min_turrets: 1,
        transaction_context: { url: target.url },
        turrets: [{ name: 'closed', canons: 4, rampup: 0, script: 'v_user.ts' }],
      },
      GET_SCRIPT.replace('async run()', 'async tearDown() { await this.ctx.sleep(0.002); }\n  async run()'),
    );
    const c = await oct(['run', closed.dir, '--results-dir', closed.results, '--no-progress'], { timeoutMs: 80_000 });
    assert.equal(c.code, 0, `exit ${c.code}\n${c.stdout}\n${c.stderr}`);
    const cs = closed.summary();
    const closedP99 = seriesOf(cs, 'All transactions').overall.p99;
    // Each closed canon meets each stall once, then waits: the stall is a handful of samples among
    // thousands, and the p99 looks healthy.
    assert.ok(closedP99 < 0.05, `closed-model p99 ${closedP99 * 1000} ms`);
    assert.ok(!cs.series.some((x) => x.name === INTENDED_LATENCY_SERIES), 'an unplanned closed loop has no intended start');
    assert.equal(cs.load, null);
  });
});

describe('closed model', () => {
  test('a stage from 20 to 5 canons stops 15 canons, each after finishing its iteration', { timeout: 90_000 }, async () => {
    const q = await workloadProject(
      {
        start_target: 20,
        stages: [
          { duration: 2, target: 20 },
          { duration: 0, target: 5 },
          { duration: 3, target: 5 },
        ],
        min_turrets: 1,
        turrets: [{ name: 'c', canons: 1, rampup: 0, script: 'v_user.ts' }],
      },
      '',
    );
    const log = join(q.dir, 'iterations.log');
    const script = `import { appendFileSync } from 'node:fs';
import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {}
  async setup() { appendFileSync(${JSON.stringify(log)}, 'start ' + this.ctx.canon + ' ' + Date.now() + '\\n'); }
  async run() { await this.ctx.sleep(0.1 + Math.random() * 0.1); }
  async tearDown() { appendFileSync(${JSON.stringify(log)}, 'end ' + this.ctx.canon + ' ' + Date.now() + '\\n'); }
}
`;
    writeFileSync(join(q.dir, 'v_user.ts'), script);
    const r = await oct(['run', q.dir, '--results-dir', q.results, '--no-progress'], { timeoutMs: 80_000 });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '));
    const per = new Map<number, { starts: number; ends: number; lastStart: number }>();
    for (const [kind, canon, at] of lines) {
      const e = per.get(Number(canon)) ?? { starts: 0, ends: 0, lastStart: 0 };
      if (kind === 'start') {
        e.starts++;
        e.lastStart = Number(at);
      } else e.ends++;
      per.set(Number(canon), e);
    }
    assert.equal(per.size, 20, `canons seen: ${[...per.keys()]}`);
    for (const [canon, e] of per) assert.equal(e.ends, e.starts, `canon ${canon}: every iteration it started finished`);
    const stopped = [...per].filter(([canon]) => canon >= 5).map(([, e]) => e.lastStart);
    const kept = [...per].filter(([canon]) => canon < 5).map(([, e]) => e.lastStart);
    // The 15 stopped canons started nothing in the last seconds; the 5 kept ones went on to the end.
    assert.ok(Math.max(...stopped) < Math.min(...kept) - 1000, `stopped canons' last starts ${Math.max(...stopped)}, kept ${Math.min(...kept)}`);
    const s = q.summary();
    const late = s.load!.seconds.filter((x) => x.second >= 3 && x.second < 5);
    assert.ok(late.length && late.every((x) => x.canons === 5 && x.target === 5), JSON.stringify(late));
    assert.equal(await q.storedRows(), lines.filter((l) => l[0] === 'end').length, 'every iteration stored');
  });
});

describe('closed model with pacing', () => {
  test('4 canons, one iteration every 0.25 s each: 16 iterations/s, each timed from its slot too', { timeout: 90_000 }, async () => {
    const p = await workloadProject(
      {
        stages: [{ duration: 4, target: 4 }],
        start_target: 4,
        pacing: 0.25,
        min_turrets: 1,
        turrets: [{ name: 'paced', canons: 1, rampup: 0, script: 'v_user.ts' }],
      },
      `export class Transaction {
  customTimers: Record<string, number> = {};
  async run() { await new Promise((r) => setTimeout(r, 20)); }
}
`,
    );
    const r = await oct(['run', p.dir, '--results-dir', p.results, '--no-progress'], { timeoutMs: 80_000 });
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const s = p.summary();
    for (const sec of s.load!.seconds.filter((x) => x.second >= 1 && x.second < 4))
      assert.ok(Math.abs(sec.started - 16) <= 1, `second ${sec.second}: ${sec.started} started`);
    const intended = seriesOf(s, INTENDED_LATENCY_SERIES).overall;
    // run() waits on a 20 ms timer (which may fire a few µs early by the performance clock).
    assert.ok(intended.p50 >= 0.019 && intended.p50 < 0.05, `from the slot: p50 ${intended.p50}`);
    assert.equal(s.validity.dropped, 0);
  });
});

describe('saturation', () => {
  test('a script that burns the CPU cannot keep 200/s: the run is INVALID, exit code 5', { timeout: 90_000 }, async () => {
    const p = await workloadProject(
      {
        rate: 200,
        run_time: 4,
        min_turrets: 1,
        thresholds: { error_rate: '<1%' },
        turrets: [{ name: 'hot', canons: 10, max_canons: 20, rampup: 0, script: 'v_user.ts' }],
      },
      `export class Transaction {
  customTimers: Record<string, number> = {};
  // 20 ms of CPU per iteration: 200/s would need four cores.
  async run() { const end = performance.now() + 20; while (performance.now() < end) {} }
}
`,
    );
    const junit = join(p.dir, 'junit.xml');
    const r = await oct(['run', p.dir, '--results-dir', p.results, '--no-progress', '--junit', junit], { timeoutMs: 80_000 });
    assert.equal(r.code, INVALID_RUN, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /verdict: INVALID/);
    const s = p.summary();
    assert.equal(s.verdict, 'INVALID');
    assert.equal(s.validity.valid, false);
    assert.ok(s.validity.reasons.length > 0);
    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /type="RunInvalid"/);
    const html = readFileSync(join(p.results, 'results.html'), 'utf8');
    assert.match(html, /RUN INVALID/);
  });
});

describe('open model: turrets leave and join', () => {
  let target: StallServer;
  before(async () => {
    target = await startStallServer({ stallMs: 0, periodMs: 1000 });
  });
  after(() => target.close());

  test('three turrets at 300/s: one gets SIGTERM, one joins; the total stays on target, every iteration is stored', { timeout: 120_000 }, async () => {
    const p = await workloadProject(
      {
        rate: 300,
        run_time: 16,
        min_turrets: 3,
        transaction_context: { url: target.url },
        turrets: [{ name: 'nav', canons: 10, rampup: 0, script: 'v_user.ts' }],
      },
      GET_SCRIPT,
    );
    const config = turretConfigFile(p, 'nav');
    const hq = startOct(['run', p.dir, '--hq-only', '--no-progress', '--results-dir', p.results]);
    const turrets = ['a', 'b', 'c'].map((u) => startOct(['turret', '--config', config, '--uuid', `turret-${u}`]));
    // 0 until the HQ answers: it may not be listening yet.
    const elapsed = async () =>
      ((await (await fetch(`http://127.0.0.1:${p.ports.http}/status`)).json()) as { progress: { elapsedSeconds: number } }).progress.elapsedSeconds;
    const reached = (s: number) => async () => (await elapsed().catch(() => 0)) >= s;
    await until(reached(4), 60_000, '4 s into the test');
    turrets[0]!.child.kill('SIGTERM');
    await until(reached(6), 60_000, '6 s into the test');
    const late = startOct(['turret', '--config', config, '--uuid', 'turret-d']);
    // A turret process takes seconds to start on a busy machine; the test goes on once it fires.
    // (/status shows uuids only with the control token: the late one is the third running again.)
    const running = async () =>
      ((await (await fetch(`http://127.0.0.1:${p.ports.http}/status`)).json()) as { turrets: Array<{ state: string }> }).turrets.filter(
        (t) => t.state === 'running',
      ).length === 3;
    await until(() => running().catch(() => false), 60_000, 'the late turret to run');
    assert.ok((await elapsed()) < 15, 'the late turret joined with time left in the run');
    const hqDone = await hq.done;
    for (const t of [...turrets, late]) t.child.kill('SIGTERM');
    const exits = await Promise.all([...turrets, late].map((t) => t.done));
    assert.equal(hqDone.code, 0, hqDone.out);
    exits.forEach((e, i) => assert.equal(e.code, 0, `turret ${i}: ${e.out}`));

    const s = p.summary();
    const replans = s.load!.replans;
    assert.deepEqual(
      replans.map((r) => r.turrets),
      [3, 2, 3],
      JSON.stringify(replans),
    );
    const changed = new Set(replans.slice(1).map((r) => Math.floor(r.at)));
    for (const sec of s.load!.seconds.filter((x) => x.second >= 1 && x.second < 16 && !changed.has(x.second))) {
      assert.ok(Math.abs(sec.started - 300) <= 6, `second ${sec.second}: ${sec.started} started of 300 (re-plans at ${[...changed]})`);
    }
    const started = s.load!.turrets.reduce((a, t) => a + t.started, 0);
    assert.deepEqual(s.load!.turrets.map((t) => t.uuid).sort(), ['turret-a', 'turret-b', 'turret-c', 'turret-d']);
    assert.equal(await p.storedRows(), started, 'every iteration that ran is stored');
    assert.equal(s.validity.dropped, 0);
  });
});
