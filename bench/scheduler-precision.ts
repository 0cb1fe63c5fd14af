// Open-model scheduler precision: how exactly one oct turret, pinned to one core, starts iterations
// at a planned arrival rate (turret/planned-load.ts), next to autocannon --overallRate at the same
// rate on the same core and the same nginx. For each rate: the achieved rate over the planned one
// (summary.json load.seconds, without the first and the last second), the schedule lag p99 (actual −
// intended start; the median over those seconds of the per-second p99, and the worst second), and
// the request latency p99 of each. Rates: 1,000/s, 10,000/s, then a search for the highest rate the
// turret sustains (achieved/target ≥ 0.99 and ≤ 1% dropped), bounded in steps and in time.
//
// Layout, as bench/generators.ts: nginx (one worker) and the HQ (`oct run --hq-only`) on
// core 0; on core 1, in turn, autocannon and one `oct turret --config turret.json` process. The
// turret is started apart from `oct run` so that it alone is pinned: `oct run` without --hq-only
// spawns its turrets itself (cli/local-turrets.ts), and pinning it would put HQ and turret on one
// core. Every connection is to 127.0.0.1 (--hq-only listens on all interfaces while the run lasts).
//
// node --import tsx bench/scheduler-precision.ts [--rates 1000,10000] [--no-search]
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadSecond } from '../protocol/load-report.ts';
import { INTENDED_LATENCY_SERIES } from '../protocol/results.ts';
import { freePort, startNginx } from './nginx.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OCT = join(ROOT, 'bin', 'oct.js');
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');

const GENERATOR_CPU = 1;
const HQ_CPU = 0;

/** The script of the benchmark's project: one GET of the nginx URL per iteration. */
const GET_SCRIPT = `import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {}
  async run() { await this.ctx.http.get(String(this.ctx.data.url)); }
}
`;

export interface OctAtRate {
  exitCode: number | null;
  verdict: string;
  /** The seconds judged (load.seconds without the first and the last). */
  seconds: number;
  target: number;
  started: number;
  dropped: number;
  /** started / target over the judged seconds. */
  achievedRatio: number;
  /** started per judged second. */
  achievedRate: number;
  /** dropped / (started + dropped) over the judged seconds. */
  droppedRatio: number;
  /** Median over the judged seconds of each second's schedule-lag p99, ms. */
  lagP99MedianMs: number;
  /** The worst second's schedule-lag p99, ms. */
  lagP99MaxMs: number;
  /** The largest single schedule lag, ms. */
  lagMaxMs: number;
  /** Median over the judged seconds of the turret's event-loop delay p99, ms. */
  loopDelayP99MedianMs: number;
  /** Request time p99 (from the actual start), ms, whole run. */
  serviceP99Ms: number;
  /** Median over the report's 1-s bins, without the first and the last, of the request time p99, ms. */
  serviceP99MedianMs: number;
  /** Latency from the intended start p99, ms, whole run. */
  intendedP99Ms: number;
  errors: number;
  /** The highest canon count reported in a second. */
  canonsMax: number;
  /**
   * The same figures from the third second on (load.seconds[2…last−1]): the turret past its
   * start-up, which at high rates spills over into the second second. Not used to judge.
   */
  steady: WindowFigures;
  /** load.seconds of the run, every second: started, dropped, lag p99, loop delay p99, canons. */
  perSecond: Array<[second: number, started: number, dropped: number, lagP99Ms: number, loopDelayP99Ms: number, canons: number]>;
}

export interface WindowFigures {
  seconds: number;
  achievedRatio: number;
  droppedRatio: number;
  lagP99MedianMs: number;
  lagP99MaxMs: number;
}

/** Achieved/target, dropped share and schedule lag p99 (median and worst) over some seconds. */
export function windowFigures(seconds: LoadSecond[]): WindowFigures {
  const sum = (f: (s: LoadSecond) => number) => seconds.reduce((a, s) => a + f(s), 0);
  const [target, started, dropped] = [sum((s) => s.target), sum((s) => s.started), sum((s) => s.dropped)];
  return {
    seconds: seconds.length,
    achievedRatio: target > 0 ? started / target : NaN,
    droppedRatio: started + dropped > 0 ? dropped / (started + dropped) : 0,
    lagP99MedianMs: median(seconds.map((s) => s.lagP99Ms)),
    lagP99MaxMs: seconds.length ? Math.max(...seconds.map((s) => s.lagP99Ms)) : NaN,
  };
}

export interface AutocannonAtRate {
  achievedRate: number;
  achievedRatio: number;
  latencyP99Ms: number;
  errors: number;
}

export interface RatePoint {
  rate: number;
  /** The better of the attempts (the higher achieved/target). */
  oct: OctAtRate;
  /** achieved/target of each oct attempt: a rate not sustained is run once more, time allowing. */
  octAttempts: number[];
  autocannon: AutocannonAtRate;
  /** The turret kept up in one of its attempts: achieved/target ≥ 0.99 and dropped ≤ 1%. */
  sustained: boolean;
}

export interface SchedulerPrecision {
  runTime: number;
  maxCanons: number;
  connections: number;
  points: RatePoint[];
  /** The highest rate tried that the turret sustained, and the lowest it did not (null: none tried). */
  highestSustained: number | null;
  lowestFailed: number | null;
  /** Why the search stopped. */
  searchEnd: string;
  wallSeconds: number;
}

const median = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function pinned(cpu: number, cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
}

/** Its output and exit code; killed (SIGKILL) after timeoutMs. */
function collect(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((res) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr, timedOut });
    }),
  );
}

async function autocannonAt(url: string, rate: number, connections: number, seconds: number): Promise<AutocannonAtRate> {
  const args = [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '--overallRate', String(rate), '-j', url];
  const r = await collect(pinned(GENERATOR_CPU, process.execPath, args), (seconds + 30) * 1000);
  if (r.code !== 0) throw new Error(`autocannon failed (${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`);
  const json = JSON.parse(r.stdout) as { requests: { total: number }; latency: { p99: number }; errors: number; non2xx: number; timeouts: number };
  const achievedRate = json.requests.total / seconds;
  return { achievedRate, achievedRatio: achievedRate / rate, latencyP99Ms: json.latency.p99, errors: json.errors + json.non2xx + json.timeouts };
}

interface SummaryJson {
  verdict: string;
  totals: { errors: number };
  series: Array<{ name: string; overall: { p99: number }; bins: Array<{ p99: number | null }> }>;
  load: { seconds: LoadSecond[] } | null;
}

async function octAt(url: string, rate: number, runTime: number, maxCanons: number): Promise<OctAtRate> {
  const dir = mkdtempSync(join(tmpdir(), 'oct-bench-sched-'));
  try {
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, 'v_user.ts'), GET_SCRIPT);
    const [pub, rc, http] = [await freePort(), await freePort(), await freePort()];
    const entry = { name: 'bench', canons: 50, max_canons: maxCanons, rampup: 0, script: 'v_user.ts' };
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        model: 'open',
        rate,
        run_time: runTime,
        results_ts_interval: 1,
        progress_bar: false,
        publish_port: pub,
        rc_port: rc,
        http_port: http,
        min_turrets: 1,
        turrets_wait_timeout: 30,
        stop_grace: 5,
        // --hq-only asks for CURVE; this measures the scheduler over loopback (CURVE: bench/curve.ts).
        allow_plaintext: true,
        transaction_context: { url },
        turrets: [entry],
      }),
    );
    writeFileSync(join(dir, 'turret.json'), JSON.stringify({ ...entry, hq_address: '127.0.0.1', hq_publisher: pub, hq_rc: rc }));
    const results = join(dir, 'results');
    const hq = collect(pinned(HQ_CPU, process.execPath, [OCT, 'run', dir, '--hq-only', '--no-progress', '--results-dir', results]), (runTime + 60) * 1000);
    const turret = pinned(GENERATOR_CPU, process.execPath, [OCT, 'turret', '--config', join(dir, 'turret.json')], { cwd: dir });
    const turretDone = collect(turret, (runTime + 70) * 1000);
    const r = await hq;
    turret.kill('SIGTERM');
    await turretDone;
    // 4: a threshold failed (none set here); 5: INVALID, the generator did not keep up: both measured.
    if (r.code !== 0 && r.code !== 4 && r.code !== 5) throw new Error(`oct run failed (${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stdout}\n${r.stderr}`);
    const summary = JSON.parse(readFileSync(join(results, 'summary.json'), 'utf8')) as SummaryJson;
    const all = [...(summary.load?.seconds ?? [])].sort((a, b) => a.second - b.second);
    // The first second holds the turret's start; the one the stop lands in is partial.
    const judged = all.slice(1, -1);
    if (judged.length < 2) throw new Error(`rate ${rate}: only ${all.length} seconds in load.seconds`);
    const sum = (f: (s: LoadSecond) => number) => judged.reduce((a, s) => a + f(s), 0);
    const [target, started, dropped] = [sum((s) => s.target), sum((s) => s.started), sum((s) => s.dropped)];
    const w = windowFigures(judged);
    const p99Of = (name: string) => (summary.series.find((s) => s.name === name)?.overall.p99 ?? NaN) * 1000;
    return {
      exitCode: r.code,
      verdict: summary.verdict,
      seconds: judged.length,
      target,
      started,
      dropped,
      achievedRatio: w.achievedRatio,
      achievedRate: started / judged.length,
      droppedRatio: w.droppedRatio,
      lagP99MedianMs: w.lagP99MedianMs,
      lagP99MaxMs: w.lagP99MaxMs,
      lagMaxMs: Math.max(...judged.map((s) => s.lagMaxMs)),
      loopDelayP99MedianMs: median(judged.map((s) => s.loopDelayP99Ms)),
      serviceP99Ms: p99Of('All transactions'),
      serviceP99MedianMs: median(
        (summary.series.find((s) => s.name === 'All transactions')?.bins ?? []).slice(1, -1).flatMap((b) => (b.p99 === null ? [] : [b.p99 * 1000])),
      ),
      intendedP99Ms: p99Of(INTENDED_LATENCY_SERIES),
      errors: summary.totals.errors,
      canonsMax: Math.max(...all.map((s) => s.canons)),
      steady: windowFigures(all.slice(2, -1)),
      perSecond: all.map((s) => [s.second, s.started, s.dropped, s.lagP99Ms, s.loopDelayP99Ms, s.canons]),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sustainedBy = (o: OctAtRate) => o.achievedRatio >= 0.99 && o.droppedRatio <= 0.01;

export async function benchSchedulerPrecision(
  opts: {
    /** Always measured, in this order. */
    rates?: number[];
    /** Then search for the highest sustained rate. */
    search?: boolean;
    runTime?: number;
    maxCanons?: number;
    connections?: number;
    /** Rates tried by the search, at most. */
    maxSearchSteps?: number;
    /** No new search step once this much time has passed since the start (ms). */
    budgetMs?: number;
    log?: (line: string) => void;
  } = {},
): Promise<SchedulerPrecision> {
  const rates = opts.rates ?? [1000, 10_000];
  const runTime = opts.runTime ?? 6;
  const maxCanons = opts.maxCanons ?? 500;
  const connections = opts.connections ?? 50;
  const maxSearchSteps = opts.maxSearchSteps ?? 4;
  const budgetMs = opts.budgetMs ?? 140_000;
  const log = opts.log ?? ((l: string) => console.log(l));
  const t0 = performance.now();
  const nginx = await startNginx({ cpu: HQ_CPU });
  const points: RatePoint[] = [];
  try {
    // Seconds one oct run and one autocannon run took, for the time budget.
    let octMs = 0;
    let autocannonMs = 0;
    const elapsed = () => performance.now() - t0;
    const measure = async (rate: number) => {
      let t = performance.now();
      const autocannon = await autocannonAt(nginx.url, rate, connections, runTime);
      autocannonMs = Math.max(autocannonMs, performance.now() - t);
      const attempts: OctAtRate[] = [];
      // A noisy neighbour can stall the generator's core for a second, which alone fails a rate:
      // a near miss (≥ 85% achieved) is run again once if the budget allows; the better run counts.
      for (let i = 0; i < 2; i++) {
        if (i > 0 && (sustainedBy(attempts[0]!) || attempts[0]!.achievedRatio < 0.85 || elapsed() + octMs > budgetMs)) break;
        t = performance.now();
        attempts.push(await octAt(nginx.url, rate, runTime, maxCanons));
        octMs = Math.max(octMs, performance.now() - t);
      }
      const oct = attempts.reduce((a, b) => (b.achievedRatio - b.droppedRatio > a.achievedRatio - a.droppedRatio ? b : a));
      const p: RatePoint = { rate, oct, octAttempts: attempts.map((a) => a.achievedRatio), autocannon, sustained: attempts.some(sustainedBy) };
      points.push(p);
      log(
        `  ${rate}/s: oct ${(oct.achievedRatio * 100).toFixed(1)}% (dropped ${(oct.droppedRatio * 100).toFixed(2)}%; attempts ${p.octAttempts.map((x) => `${(x * 100).toFixed(1)}%`).join(', ')}), ` +
          `lag p99 median ${oct.lagP99MedianMs.toFixed(2)} ms max ${oct.lagP99MaxMs.toFixed(2)} ms, loop delay p99 ${oct.loopDelayP99MedianMs.toFixed(1)} ms; ` +
          `autocannon ${(autocannon.achievedRatio * 100).toFixed(1)}%, latency p99 ${autocannon.latencyP99Ms} ms (oct ${oct.serviceP99Ms.toFixed(2)} ms)${p.sustained ? '' : ' — not sustained'}`,
      );
      return p;
    };
    for (const r of rates) await measure(r);

    let searchEnd = 'no search';
    if (opts.search ?? true) {
      const ok = () => points.filter((p) => p.sustained).map((p) => p.rate);
      const bad = () => points.filter((p) => !p.sustained).map((p) => p.rate);
      // Up by half again while it holds. Once a rate fails, 90% of what the turret achieved at the
      // lowest failing rate if that lies strictly between, else the middle (rounded to 500/s).
      const round500 = (x: number) => Math.round(x / 500) * 500;
      searchEnd = `${maxSearchSteps} steps`;
      for (let step = 0; step < maxSearchSteps; step++) {
        const lo = ok().length ? Math.max(...ok()) : 0;
        const failing = bad().filter((r) => r > lo);
        const hi = failing.length ? Math.min(...failing) : null;
        let next = hi === null ? round500(lo * 1.5) : round500((lo + hi) / 2);
        if (hi !== null) {
          const guess = round500(0.9 * points.find((p) => p.rate === hi)!.oct.achievedRate);
          if (guess > lo && guess < hi) next = guess;
        }
        if (next <= lo || (hi !== null && next >= hi)) {
          searchEnd = `resolution (${lo}–${hi}/s)`;
          break;
        }
        if (elapsed() + autocannonMs + octMs > budgetMs) {
          searchEnd = `time budget (${Math.round(budgetMs / 1000)} s)`;
          break;
        }
        await measure(next);
      }
    }
    const okRates = points.filter((p) => p.sustained).map((p) => p.rate);
    const highestSustained = okRates.length ? Math.max(...okRates) : null;
    const failedAbove = points.filter((p) => !p.sustained && p.rate > (highestSustained ?? 0)).map((p) => p.rate);
    return {
      runTime,
      maxCanons,
      connections,
      points,
      highestSustained,
      lowestFailed: failedAbove.length ? Math.min(...failedAbove) : null,
      searchEnd,
      wallSeconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await nginx.stop();
  }
}

export function formatSchedulerPrecision(r: SchedulerPrecision): string {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const lines = [
    '| rate | oct achieved/target (attempts) | dropped | lag p99 median / max (ms) | lag max (ms) | loop delay p99 (ms) | oct req p99 whole run / median of seconds (ms) | from intended p99 (ms) | autocannon achieved/target | autocannon p99 (ms) | oct from the 3rd second: achieved, dropped, lag p99 median / max (ms) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of [...r.points].sort((a, b) => a.rate - b.rate)) {
    const o = p.oct;
    const a = p.autocannon;
    lines.push(
      `| ${p.rate.toLocaleString('en-US')}/s | ${f(o.achievedRatio * 100)}% (${p.octAttempts.map((x) => `${f(x * 100)}%`).join(', ')}) | ${f(o.droppedRatio * 100, 2)}% | ${f(o.lagP99MedianMs, 2)} / ${f(o.lagP99MaxMs, 2)} | ${f(o.lagMaxMs, 1)} | ${f(o.loopDelayP99MedianMs, 1)} | ${f(o.serviceP99Ms, 2)} / ${f(o.serviceP99MedianMs, 2)} | ${f(o.intendedP99Ms, 2)} | ${f(a.achievedRatio * 100)}% | ${a.latencyP99Ms} | ${f(o.steady.achievedRatio * 100)}%, ${f(o.steady.droppedRatio * 100, 2)}%, ${f(o.steady.lagP99MedianMs, 2)} / ${f(o.steady.lagP99MaxMs, 2)} |`,
    );
  }
  lines.push(
    `highest sustained ${r.highestSustained ?? 'none'}/s, lowest failed ${r.lowestFailed ?? 'none'}/s; search ended: ${r.searchEnd}; ${f(r.wallSeconds, 0)} s`,
  );
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ratesArg = process.argv.indexOf('--rates');
  const rates = ratesArg > 0 ? process.argv[ratesArg + 1]!.split(',').map(Number) : undefined;
  const r = await benchSchedulerPrecision({ rates, search: !process.argv.includes('--no-search') });
  console.log(JSON.stringify(r, null, 2));
  console.log(formatSchedulerPrecision(r));
}
