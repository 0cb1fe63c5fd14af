// Turret efficiency: requests per second of one oct turret process running an HTTP GET
// transaction, next to autocannon and a bare undici.request() loop against the same nginx, each
// pinned to the same single core. The HQ and nginx share the other core. Reported as ratios,
// because absolute numbers on a shared 2-core machine move from run to run.
// OCT_BENCH_CPU_PROF=DIR writes a CPU profile of each turret process into DIR.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNginx } from './nginx.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OCT = join(ROOT, 'bin', 'oct.js');

export interface TurretEfficiency {
  seconds: number;
  connections: number;
  rounds: number;
  /** Medians over the rounds; each round runs autocannon then the turret, back to back. */
  autocannonRps: number;
  /** A bare loop of undici.request() with as many concurrent workers: the floor of the turret's own overhead. */
  undiciRps: number;
  turretRps: number;
  /** Median of the per-round ratios turret / autocannon. */
  ratio: number;
  ratios: number[];
  /** Median of the per-round ratios turret / bare undici loop (the part of the gap the turret owns). */
  undiciRatio: number;
  undiciRatios: number[];
  turretErrors: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function pinned(cpu: number, cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  return spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
}

function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('exit', (code) => res({ code, stdout, stderr })));
}

async function autocannonRps(url: string, connections: number, seconds: number, cpu: number): Promise<number> {
  const bin = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
  const r = await collect(pinned(cpu, process.execPath, [bin, '-c', String(connections), '-d', String(seconds), '-j', url]));
  if (r.code !== 0) throw new Error(`autocannon failed: ${r.stderr}`);
  const json = JSON.parse(r.stdout);
  return json.requests.total / seconds;
}

// The same work a canon does for `await ctx.http.get(url)` minus the turret: N async workers each
// awaiting undici.request() and consuming the body, on one keep-alive Agent, counted over `seconds`.
const UNDICI_LOOP = `
import { Agent, request } from 'undici';
const [url, workers, seconds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const dispatcher = new Agent({ keepAliveTimeout: 30000, pipelining: 1 });
let count = 0, errors = 0, stop = false;
async function worker() {
  while (!stop) {
    try {
      const res = await request(url, { dispatcher });
      await res.body.text();
      if (res.statusCode >= 400) errors++;
      count++;
    } catch { errors++; }
  }
}
const t0 = performance.now();
const all = Array.from({ length: workers }, worker);
setTimeout(() => (stop = true), seconds * 1000);
await Promise.all(all);
const s = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ rps: count / s, errors }));
await dispatcher.close();
`;

async function undiciRps(url: string, workers: number, seconds: number, cpu: number): Promise<number> {
  const r = await collect(pinned(cpu, process.execPath, ['--input-type=module', '-e', UNDICI_LOOP, url, String(workers), String(seconds)], { cwd: ROOT }));
  if (r.code !== 0) throw new Error(`undici loop failed: ${r.stderr}`);
  return JSON.parse(r.stdout).rps;
}

async function turretRps(url: string, canons: number, seconds: number, cpu: number): Promise<{ rps: number; errors: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'oct-bench-turret-'));
  try {
    mkdirSync(join(dir, 'scripts'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(dir, 'scripts', 'get.ts'),
      `import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {}
  async run() { await this.ctx.http.get(${JSON.stringify(url)}); }
}
`,
    );
    const [pub, rc, http] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        run_time: seconds,
        results_ts_interval: 1,
        progress_bar: false,
        publish_port: pub,
        rc_port: rc,
        http_port: http,
        min_turrets: 1,
        turrets: [{ name: 'bench', canons, rampup: 0, script: 'scripts/get.ts' }],
      }),
    );
    writeFileSync(
      join(dir, 'turret.json'),
      JSON.stringify({ name: 'bench', canons, rampup: 0, script: 'scripts/get.ts', hq_address: '127.0.0.1', hq_publisher: pub, hq_rc: rc }),
    );
    const hq = collect(pinned(0, process.execPath, [OCT, 'run', dir, '--hq-only', '--no-progress', '--results-dir', join(dir, 'results')]));
    // OCT_BENCH_CPU_PROF=DIR: profile the turret process (start-up included; look at the run window).
    const prof = process.env.OCT_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OCT_BENCH_CPU_PROF}`] : [];
    const turret = pinned(cpu, process.execPath, [...prof, OCT, 'turret', '--config', join(dir, 'turret.json')]);
    const turretDone = collect(turret);
    const r = await hq;
    turret.kill('SIGTERM');
    await turretDone;
    if (r.code !== 0 && r.code !== 4) throw new Error(`oct run failed (${r.code}): ${r.stdout}\n${r.stderr}`);
    const summary = JSON.parse(readFileSync(join(dir, 'results', 'summary.json'), 'utf8'));
    return { rps: summary.totals.throughput, errors: summary.totals.errors };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchTurretEfficiency(opts: { seconds?: number; connections?: number; rounds?: number } = {}): Promise<TurretEfficiency> {
  const seconds = opts.seconds ?? 5;
  const connections = opts.connections ?? 50;
  const rounds = opts.rounds ?? 3;
  const nginx = await startNginx({ cpu: 0 });
  try {
    const ac: number[] = [];
    const un: number[] = [];
    const tu: number[] = [];
    let errors = 0;
    for (let i = 0; i < rounds; i++) {
      ac.push(await autocannonRps(nginx.url, connections, seconds, 1));
      un.push(await undiciRps(nginx.url, connections, seconds, 1));
      const t = await turretRps(nginx.url, connections, seconds, 1);
      tu.push(t.rps);
      errors += t.errors;
    }
    const ratios = tu.map((t, i) => t / ac[i]!);
    const undiciRatios = tu.map((t, i) => t / un[i]!);
    return {
      seconds,
      connections,
      rounds,
      autocannonRps: median(ac),
      undiciRps: median(un),
      turretRps: median(tu),
      ratio: median(ratios),
      ratios,
      undiciRatio: median(undiciRatios),
      undiciRatios,
      turretErrors: errors,
    };
  } finally {
    await nginx.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchTurretEfficiency());
}
