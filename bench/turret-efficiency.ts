// Turret efficiency: requests per second of one oct turret process running an HTTP GET
// transaction, next to autocannon against the same nginx, each pinned to the same single core.
// The HQ and nginx share the other core. Reported as a ratio, because absolute numbers on a shared
// 2-core machine move from run to run.
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
  turretRps: number;
  /** Median of the per-round ratios turret / autocannon. */
  ratio: number;
  ratios: number[];
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
      JSON.stringify({ run_time: seconds, results_ts_interval: 1, progress_bar: false, publish_port: pub, rc_port: rc, http_port: http, min_turrets: 1, turrets: [{ name: 'bench', canons, rampup: 0, script: 'scripts/get.ts' }] }),
    );
    writeFileSync(join(dir, 'turret.json'), JSON.stringify({ name: 'bench', canons, rampup: 0, script: 'scripts/get.ts', hq_address: '127.0.0.1', hq_publisher: pub, hq_rc: rc }));
    const hq = collect(pinned(0, process.execPath, [OCT, 'run', dir, '--hq-only', '--no-progress', '--results-dir', join(dir, 'results')]));
    const turret = pinned(cpu, process.execPath, [OCT, 'turret', '--config', join(dir, 'turret.json')]);
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
    const tu: number[] = [];
    let errors = 0;
    for (let i = 0; i < rounds; i++) {
      ac.push(await autocannonRps(nginx.url, connections, seconds, 1));
      const t = await turretRps(nginx.url, connections, seconds, 1);
      tu.push(t.rps);
      errors += t.errors;
    }
    const ratios = tu.map((t, i) => t / ac[i]!);
    return { seconds, connections, rounds, autocannonRps: median(ac), turretRps: median(tu), ratio: median(ratios), ratios, turretErrors: errors };
  } finally {
    await nginx.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchTurretEfficiency());
}
