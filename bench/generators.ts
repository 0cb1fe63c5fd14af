// The generator against the load generators people compare it with, on the same core in the same
// run: nginx (one worker) on core 0; on core 1, in turn, wrk, autocannon, Locust FastHttpUser and
// one oct turret, each with 50 keep-alive connections (canons/users) GETting the same tiny
// response, every response read. The turret runs twice: results pre-aggregated only
// (`results_storage: "none"`: every result is counted into per-second histograms and stored as
// aggregates, as k6 and autocannon keep theirs) and with every row stored too (the default); its HQ
// (`oct run --hq-only`) shares core 0 with nginx. Rounds rotate the order, so no generator always
// runs first or right after another; ratios are per round, medians across rounds.
//
// Besides requests per second, each generator's CPU per request: its process's CPU time (/proc) over
// the steady part of its run, divided by its rate. On a saturated core the two tell the same story;
// when the target or the machine is the limit, CPU per request still says who is cheaper.
//
// Workers: one turret process with `--workers 2` against `--workers 1`, unpinned (both cores, nginx
// pinned to core 0 as before), beside autocannon `-w 2` against `-w 1` in the same layout.
//   node --import tsx bench/generators.ts [--seconds 8] [--rounds 3] [--no-workers]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNginx } from './nginx.ts';
import { writeGetProject } from './turret-project.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONNECTIONS = 50;

export interface GeneratorRun {
  /** Requests per second over the generator's own run, as it reports it (the turret: the HQ's summary). */
  rps: number;
  /** CPU of the generator's process over the steady part of its run, in cores. */
  cores: number;
  /** Microseconds of CPU per request: cores / rps. */
  usPerRequest: number;
  errors: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** `cpus`: a taskset list ("1", "0,1"); null runs the command as is. */
function pinned(cpus: string | null, cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const [c, a] = cpus === null ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
  return spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('exit', (code) => res({ code, stdout, stderr })));
}

/** CPU seconds of a process and its threads (taskset execs the command: same pid); NaN once it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The process's CPU rate (cores) between `fromS` and `toS` seconds after now: the steady part of a run. */
async function cpuWindow(pid: number, fromS: number, toS: number): Promise<number> {
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, fromS * 1000));
  const c0 = cpuSecondsOf(pid);
  const a = performance.now();
  await new Promise((r) => setTimeout(r, (toS - fromS) * 1000 - (a - t0 - fromS * 1000)));
  return (cpuSecondsOf(pid) - c0) / ((performance.now() - a) / 1000);
}

/** Runs an external generator for `seconds`, its CPU sampled from `warmS` to one second before its end. */
async function external(
  cmd: string,
  args: string[],
  seconds: number,
  cpus: string | null,
  parse: (stdout: string) => { rps: number; errors: number },
  warmS = 2,
) {
  const child = pinned(cpus, cmd, args);
  const done = collect(child);
  const cores = await cpuWindow(child.pid!, warmS, seconds - 0.5);
  const r = await done;
  if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
  const { rps, errors } = parse(r.stdout);
  return { rps, errors, cores, usPerRequest: (cores / rps) * 1e6 };
}

export function wrk(url: string, seconds: number, cpus: string | null): Promise<GeneratorRun> {
  return external('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, url], seconds, cpus, (out) => {
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    if (!Number.isFinite(rps)) throw new Error(`wrk printed no rate:\n${out}`);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return { rps, errors: non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) };
  });
}

export function autocannon(url: string, seconds: number, cpus: string | null, workers = 1): Promise<GeneratorRun> {
  const bin = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
  const w = workers > 1 ? ['-w', String(workers)] : [];
  return external(process.execPath, [bin, ...w, '-c', String(CONNECTIONS), '-d', String(seconds), '-j', url], seconds, cpus, (out) => {
    const j = JSON.parse(out);
    return { rps: j.requests.total / seconds, errors: j.errors + j.non2xx };
  });
}

const LOCUST_FILE = `from locust import task, constant
from locust.contrib.fasthttp import FastHttpUser

class Get(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
`;

/** Locust's FastHttpUser (Debian python3-locust), one process, every user spawned at once; null when not installed. */
export async function locust(url: string, seconds: number, cpus: string | null): Promise<GeneratorRun | null> {
  if (spawnSync('locust', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const dir = mkdtempSync(join(tmpdir(), 'oct-bench-locust-'));
  try {
    writeFileSync(join(dir, 'get.py'), LOCUST_FILE);
    const args = ['-f', join(dir, 'get.py'), '--headless', '-u', String(CONNECTIONS), '-r', '1000', '-t', `${seconds}s`, '-H', url.replace(/\/$/, '')];
    return await external(
      'locust',
      [...args, '--only-summary', '--csv', join(dir, 's'), '--loglevel', 'WARNING'],
      seconds,
      cpus,
      () => {
        const [head, ...lines] = readFileSync(join(dir, 's_stats.csv'), 'utf8').trim().split('\n');
        const cols = head!.split(',').map((c) => c.replace(/"/g, ''));
        const agg = lines.map((l) => l.split(',').map((c) => c.replace(/"/g, ''))).find((r) => r[1] === 'Aggregated')!;
        const at = (name: string) => Number(agg[cols.indexOf(name)]);
        return { rps: at('Requests/s'), errors: at('Failure Count') };
      },
      2.5,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The turret config's http settings and lines run in the script's constructor (bench/script-features.ts). */
export interface TurretVariant {
  http?: Record<string, unknown>;
  constructorBody?: string;
  runBody?: string;
}

export interface TurretOptions {
  /** bin/oct.js of the tree under test (bench/turret-ab.sh runs an older one). */
  oct?: string;
  cpus?: { hq: string | null; turret: string | null };
  resultsStorage?: 'all' | 'none';
  workers?: number;
  variant?: TurretVariant;
  /**
   * A peer run on the same core at the same time, started a second into the test (which must outlast
   * it): the turret is then measured over the peer's run only, both seeing the same machine.
   */
  alongside?: () => Promise<GeneratorRun>;
}

export interface TurretRun extends GeneratorRun {
  transactions: number;
  /** The rate over the window the CPU was measured in, from the HQ's live count. */
  windowRate: number;
  /** The peer's run, with `alongside`. */
  peer?: GeneratorRun;
}

/**
 * One `oct run --hq-only` and one `oct turret` for `seconds`. The CPU window is read off the HQ's live
 * count (/status), between two moves of it once the test runs, so start-up and drain are left out.
 */
export async function turret(url: string, seconds: number, opts: TurretOptions = {}): Promise<TurretRun> {
  const oct = opts.oct ?? join(ROOT, 'bin', 'oct.js');
  const cpus = opts.cpus ?? { hq: '0', turret: '1' };
  const workers = opts.workers ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'oct-bench-turret-'));
  try {
    const { turretConfig, httpPort } = await writeGetProject(dir, {
      url,
      canons: CONNECTIONS,
      seconds,
      resultsStorage: opts.resultsStorage,
      minTurrets: workers,
      constructorBody: opts.variant?.constructorBody,
      runBody: opts.variant?.runBody,
      http: opts.variant?.http,
    });
    const hq = collect(pinned(cpus.hq, process.execPath, [oct, 'run', dir, '--hq-only', '--no-progress', '--results-dir', join(dir, 'results')]));
    // OCT_BENCH_CPU_PROF=DIR: profile the turret process (start-up included; look at the run window).
    const prof = process.env.OCT_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OCT_BENCH_CPU_PROF}`] : [];
    const w = workers > 1 ? ['--workers', String(workers)] : [];
    const t = pinned(cpus.turret, process.execPath, [...prof, oct, 'turret', '--config', turretConfig, ...w]);
    const td = collect(t);
    // With --workers the turret process is a parent of its workers: their CPU is read through its children.
    const cpu = () => {
      if (workers === 1) return cpuSecondsOf(t.pid!);
      const kids = readFileSync(`/proc/${t.pid}/task/${t.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      return cpuSecondsOf(t.pid!) + kids.reduce((a, k) => a + cpuSecondsOf(k), 0);
    };
    type Mark = { cpu: number; tx: number; at: number };
    const marks: Mark[] = [];
    let prevTx = 0;
    let finished = false;
    let peer: Promise<{ run: GeneratorRun; from: number; to: number }> | null = null;
    const hqDone = hq.then((x) => {
      finished = true;
      return x;
    });
    while (!finished) {
      try {
        const st = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as { progress: { state: string; transactions: number } };
        if (st.progress.state !== 'running') {
          if (marks.length) break;
        } else if (st.progress.transactions !== prevTx && prevTx > 0) {
          // The HQ counts a turret at each of its aggregates (twice a second): window edges where the count moved.
          marks.push({ cpu: cpu(), tx: st.progress.transactions, at: performance.now() });
          const run = opts.alongside;
          if (run && !peer && marks.length > 1 && marks.at(-1)!.at - marks[0]!.at >= 1000) {
            const from = performance.now();
            peer = run().then((r) => ({ run: r, from, to: performance.now() }));
          }
        }
        prevTx = st.progress?.transactions ?? prevTx;
      } catch {
        // the HQ's HTTP server is not up yet, or already gone
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const r = await hqDone;
    t.kill('SIGTERM');
    await td;
    if (r.code !== 0 && r.code !== 4) throw new Error(`oct run failed (${r.code}): ${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    const p = peer ? await peer : null;
    // Beside a peer: from 1.5 s into its run (its connections open, its code warm) to its end.
    const inWindow = p ? marks.filter((m) => m.at >= p.from + 1500 && m.at <= p.to - 100) : marks;
    const first = inWindow[0];
    const last = inWindow.at(-1);
    if (!first || !last || last === first) throw new Error(`the HQ's count moved too rarely to measure a window (${inWindow.length} marks)`);
    const s = JSON.parse(readFileSync(join(dir, 'results', 'summary.json'), 'utf8'));
    const span = (last.at - first.at) / 1000;
    const cores = (last.cpu - first.cpu) / span;
    const windowRate = (last.tx - first.tx) / span;
    return {
      rps: p ? windowRate : s.totals.throughput,
      transactions: s.totals.transactions,
      errors: s.totals.errors,
      cores,
      usPerRequest: (cores / windowRate) * 1e6,
      windowRate,
      ...(p ? { peer: p.run } : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const NAMES = ['wrk', 'autocannon', 'locust', 'oct (aggregates)', 'oct (rows stored)'] as const;
type Name = (typeof NAMES)[number];

export interface GeneratorsResult {
  seconds: number;
  rounds: number;
  connections: number;
  /** Per generator, one entry per round (null: not installed). */
  runs: Record<Name, (GeneratorRun | null)[]>;
  /** Medians of the per-round ratios, oct (aggregates) / peer, by rate and by CPU per request (peer µs / oct µs). */
  ratios: Record<string, { rate: number; cpu: number; rateRounds: number[] }>;
  sideBySide: SideBySideResult;
  workers?: WorkersResult;
}

/** oct (aggregates) and a peer at the same time on core 1, per round: the turret's rate / the peer's. */
export interface SideBySideResult {
  seconds: number;
  rounds: number;
  peers: Record<string, { ratio: number; ratios: number[]; turret: number[]; peer: number[] } | null>;
}

export interface WorkersResult {
  seconds: number;
  rounds: number;
  turret: { w1: number[]; w2: number[]; ratio: number };
  autocannon: { w1: number[]; w2: number[]; ratio: number };
  /** The same turret whose script also burns ~0.9 ms of CPU per iteration: the generator, not nginx, is the limit. */
  cpuBound: { w1: number[]; w2: number[]; ratio: number; cores1: number[]; cores2: number[] };
}

/** 300,000 square roots per iteration, ~0.9 ms of CPU as measured here (a script doing real work: templating, crypto, parsing). */
const BURN = ' let x = 0; for (let i = 0; i < 300000; i++) x += Math.sqrt(i); if (x < 0) throw new Error("never");';

async function one(name: Name, url: string, seconds: number): Promise<GeneratorRun | null> {
  switch (name) {
    case 'wrk':
      return wrk(url, seconds, '1');
    case 'autocannon':
      return autocannon(url, seconds, '1');
    case 'locust':
      return locust(url, seconds, '1');
    case 'oct (aggregates)':
      return turret(url, seconds, { resultsStorage: 'none' });
    case 'oct (rows stored)':
      return turret(url, seconds, { resultsStorage: 'all' });
  }
}

/**
 * The two share core 1 (the scheduler gives each about half), so whatever the machine does to one it
 * does to the other: the rate ratio is then the generators' relative efficiency, free of the drift
 * between runs that moves sequential ratios by ±20% here.
 */
export async function benchSideBySide(url: string, opts: { seconds?: number; rounds?: number; log?: (l: string) => void } = {}): Promise<SideBySideResult> {
  const seconds = opts.seconds ?? 8;
  const rounds = opts.rounds ?? 3;
  const peers: Record<string, (url: string, seconds: number, cpus: string) => Promise<GeneratorRun | null>> = { autocannon, wrk, locust };
  const out: SideBySideResult = { seconds, rounds, peers: {} };
  for (const [name, peerRun] of Object.entries(peers)) {
    if (name === 'locust' && spawnSync('locust', ['--version'], { stdio: 'ignore' }).status !== 0) {
      out.peers[name] = null;
      continue;
    }
    const x = { ratio: 0, ratios: [] as number[], turret: [] as number[], peer: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      const t = await turret(url, seconds + 4, { resultsStorage: 'none', alongside: async () => (await peerRun(url, seconds, '1'))! });
      x.turret.push(t.windowRate);
      x.peer.push(t.peer!.rps);
      x.ratios.push(t.windowRate / t.peer!.rps);
      opts.log?.(`side by side ${name} round ${i + 1}: oct ${t.windowRate.toFixed(0)}/s, ${name} ${t.peer!.rps.toFixed(0)}/s (${x.ratios.at(-1)!.toFixed(2)})`);
    }
    x.ratio = median(x.ratios);
    out.peers[name] = x;
  }
  return out;
}

export async function benchWorkers(opts: { seconds?: number; rounds?: number; log?: (l: string) => void } = {}): Promise<WorkersResult> {
  const seconds = opts.seconds ?? 6;
  const rounds = opts.rounds ?? 2;
  const nginx = await startNginx({ cpu: 0 });
  const out: WorkersResult = {
    seconds,
    rounds,
    turret: { w1: [], w2: [], ratio: 0 },
    autocannon: { w1: [], w2: [], ratio: 0 },
    cpuBound: { w1: [], w2: [], ratio: 0, cores1: [], cores2: [] },
  };
  try {
    for (let i = 0; i < rounds; i++) {
      for (const w of i % 2 ? [2, 1] : [1, 2]) {
        const t = await turret(nginx.url, seconds, { resultsStorage: 'none', workers: w, cpus: { hq: null, turret: null } });
        out.turret[w === 1 ? 'w1' : 'w2'].push(t.rps);
        const a = await autocannon(nginx.url, seconds, null, w);
        out.autocannon[w === 1 ? 'w1' : 'w2'].push(a.rps);
        const c = await turret(nginx.url, seconds, { resultsStorage: 'none', workers: w, cpus: { hq: null, turret: null }, variant: { runBody: BURN } });
        out.cpuBound[w === 1 ? 'w1' : 'w2'].push(c.rps);
        out.cpuBound[w === 1 ? 'cores1' : 'cores2'].push(c.cores);
        opts.log?.(
          `workers round ${i + 1}, ${w}: turret ${t.rps.toFixed(0)}/s (${t.cores.toFixed(2)} cores), autocannon -w ${w} ${a.rps.toFixed(0)}/s; CPU-bound script ${c.rps.toFixed(0)}/s (${c.cores.toFixed(2)} cores)`,
        );
      }
    }
  } finally {
    await nginx.stop();
  }
  const ratio = (x: { w1: number[]; w2: number[] }) => median(x.w2.map((v, i) => v / x.w1[i]!));
  out.turret.ratio = ratio(out.turret);
  out.autocannon.ratio = ratio(out.autocannon);
  out.cpuBound.ratio = ratio(out.cpuBound);
  return out;
}

export async function benchGenerators(
  opts: { seconds?: number; rounds?: number; workers?: boolean; log?: (l: string) => void } = {},
): Promise<GeneratorsResult> {
  const seconds = opts.seconds ?? 8;
  const rounds = opts.rounds ?? 3;
  const log = opts.log ?? (() => {});
  const runs = Object.fromEntries(NAMES.map((n) => [n, []])) as unknown as GeneratorsResult['runs'];
  const nginx = await startNginx({ cpu: 0 });
  let sideBySide: SideBySideResult | null = null;
  try {
    for (let i = 0; i < rounds; i++) {
      const order = NAMES.map((_, k) => NAMES[(k + i) % NAMES.length]!);
      for (const name of order) {
        const r = await one(name, nginx.url, seconds);
        runs[name].push(r);
        log(
          `round ${i + 1} ${name}: ${r ? `${r.rps.toFixed(0)}/s, ${r.cores.toFixed(2)} cores, ${r.usPerRequest.toFixed(1)} µs/request, ${r.errors} errors` : 'not installed'}`,
        );
      }
    }
    sideBySide = await benchSideBySide(nginx.url, { seconds, rounds, log });
  } finally {
    await nginx.stop();
  }
  const ratios: GeneratorsResult['ratios'] = {};
  const oct = runs['oct (aggregates)'];
  for (const peer of ['autocannon', 'wrk', 'locust', 'oct (rows stored)'] as const) {
    const pairs = runs[peer].map((p, i) => [oct[i]!, p] as const).filter((x): x is readonly [GeneratorRun, GeneratorRun] => x[1] !== null);
    if (pairs.length === 0) continue;
    const rateRounds = pairs.map(([o, p]) => o.rps / p.rps);
    ratios[peer] = { rate: median(rateRounds), cpu: median(pairs.map(([o, p]) => p.usPerRequest / o.usPerRequest)), rateRounds };
  }
  const result: GeneratorsResult = { seconds, rounds, connections: CONNECTIONS, runs, ratios, sideBySide: sideBySide! };
  if (opts.workers !== false) result.workers = await benchWorkers({ log });
  return result;
}

export function formatGenerators(r: GeneratorsResult): string {
  const f = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const lines = [
    `| generator (core 1, ${r.connections} connections, ${r.seconds} s) | req/s, median of ${r.rounds} | µs CPU per request | oct (aggregates) / it: rate (per round) | : CPU per request |`,
    '|---|---|---|---|---|',
  ];
  for (const n of NAMES) {
    const xs = r.runs[n].filter((x): x is GeneratorRun => x !== null);
    if (xs.length === 0) {
      lines.push(`| ${n} | not installed | | | |`);
      continue;
    }
    const ratio = r.ratios[n];
    lines.push(
      `| ${n} | ${f(median(xs.map((x) => x.rps)))} | ${f(median(xs.map((x) => x.usPerRequest)), 1)} | ${ratio ? `**${f(ratio.rate, 2)}** (${ratio.rateRounds.map((x) => f(x, 2)).join(', ')})` : '—'} | ${ratio ? f(ratio.cpu, 2) : '—'} |`,
    );
  }
  lines.push('', `side by side on core 1 (${r.sideBySide.seconds} s, medians of ${r.sideBySide.rounds}), oct (aggregates) rate / the peer's:`);
  for (const [name, x] of Object.entries(r.sideBySide.peers)) {
    lines.push(
      x
        ? `- ${name}: **${f(x.ratio, 2)}** (${x.ratios.map((v) => f(v, 2)).join(', ')}; oct ${x.turret.map((v) => f(v)).join(', ')}/s, ${name} ${x.peer.map((v) => f(v)).join(', ')}/s)`
        : `- ${name}: not installed`,
    );
  }
  if (r.workers) {
    const w = r.workers;
    lines.push(
      '',
      `workers (unpinned, nginx on core 0): turret --workers 2 / --workers 1 **${f(w.turret.ratio, 2)}** (${w.turret.w1.map((x, i) => `${f(x)} → ${f(w.turret.w2[i]!)}`).join(', ')}/s); autocannon -w 2 / -w 1 ${f(w.autocannon.ratio, 2)} (${w.autocannon.w1.map((x, i) => `${f(x)} → ${f(w.autocannon.w2[i]!)}`).join(', ')}/s)`,
      `workers, a script with ~0.9 ms of CPU per iteration: --workers 2 / --workers 1 **${f(w.cpuBound.ratio, 2)}** (${w.cpuBound.w1.map((x, i) => `${f(x)} → ${f(w.cpuBound.w2[i]!)}`).join(', ')}/s; turret cores ${w.cpuBound.cores1.map((x, i) => `${f(x, 2)} → ${f(w.cpuBound.cores2[i]!, 2)}`).join(', ')})`,
    );
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await benchGenerators({
    seconds: arg('--seconds', 8),
    rounds: arg('--rounds', 3),
    workers: !process.argv.includes('--no-workers'),
    log: (l) => console.error(l),
  });
  console.log(JSON.stringify(r));
  console.log(formatGenerators(r));
}
