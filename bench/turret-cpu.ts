// The turret's CPU per transaction, beside its rate against autocannon: bench/turret-efficiency.ts's
// layout (nginx and the HQ on core 0, autocannon then the turret on core 1, 50 connections and
// canons), reading the turret process's CPU time (/proc/PID/stat) each time the HQ's count (/status)
// moves while the test runs. CPU per transaction is what an A/B of two trees can resolve on a noisy
// shared machine, where the throughput ratio cannot. OCT_TREE picks the tree under test (default:
// this one), so bench/turret-ab.sh can run the same file against an older commit.
//   node --import tsx bench/turret-cpu.ts            # ROUNDS (3) and SECONDS_PER_RUN (8) optional
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const ROOT = process.env.OCT_TREE ?? join(import.meta.dirname, '..');
const { freePort, startNginx } = await import(join(ROOT, 'bench', 'nginx.ts'));
const OCT = join(ROOT, 'bin', 'oct.js');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function pinned(cpu: number, cmd: string, args: string[]): ChildProcess {
  return spawn('taskset', ['-c', String(cpu), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
function collect(child: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('exit', (code) => res({ code, stdout, stderr })));
}
async function autocannonRps(url: string, c: number, seconds: number): Promise<number> {
  const r = await collect(
    pinned(1, process.execPath, [join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-c', String(c), '-d', String(seconds), '-j', url]),
  );
  return JSON.parse(r.stdout).requests.total / seconds;
}
async function turret(url: string, canons: number, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'oct-ab-turret-'));
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
    const t = pinned(1, process.execPath, [OCT, 'turret', '--config', join(dir, 'turret.json')]);
    const td = collect(t);
    // While the test runs: turret CPU and the HQ's transaction count at the start and at the stop (/status).
    const cpuOf = (pid: number) => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    };
    let w0: { cpu: number; tx: number; at: number } | null = null;
    let w1: { cpu: number; tx: number; at: number } | null = null;
    let last: { cpu: number; tx: number; at: number } | null = null;
    let prevTx = 0;
    let finished = false;
    const hqDone = hq.then((x) => ((finished = true), x));
    while (!finished && !w1) {
      try {
        const st = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as { progress: { state: string; transactions: number } };
        const now = { cpu: cpuOf(t.pid!), tx: st.progress.transactions, at: performance.now() };
        // Window edges where the count moved (the new HQ counts a turret once a second, at its aggregate).
        if (st.progress.state === 'running' && now.tx !== prevTx && prevTx > 0) {
          if (!w0) w0 = now;
          else last = now;
        }
        if (st.progress.state !== 'running' && w0) w1 = now;
        prevTx = now.tx;
      } catch {
        // the HQ's HTTP server is not up yet, or already gone
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    const r = await hqDone;
    // CPU seconds of the turret process (taskset execs node: same pid), from /proc before it is stopped.
    let cpu = NaN;
    try {
      const f = readFileSync(`/proc/${t.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      cpu = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // the turret already exited
    }
    t.kill('SIGTERM');
    await td;
    if (process.env.SHOW) console.error(r.stdout.slice(0, 3000), '\n---\n', r.stderr.slice(0, 3000));
    if (r.code !== 0 && r.code !== 4) throw new Error(`oct run failed (${r.code}): ${r.stderr}`);
    const s = JSON.parse(readFileSync(join(dir, 'results', 'summary.json'), 'utf8'));
    return {
      throughput: s.totals.throughput,
      transactions: s.totals.transactions,
      duration: s.totals.duration,
      perRunTime: s.totals.transactions / seconds,
      cpuSeconds: cpu,
      windowUsPerTx: w0 && last && last.tx > w0.tx ? ((last.cpu - w0.cpu) * 1e6) / (last.tx - w0.tx) : NaN,
      windowRate: w0 && last ? (last.tx - w0.tx) / ((last.at - w0.at) / 1000) : NaN,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const rounds = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 8);
const nginx = await startNginx({ cpu: 0 });
const out: unknown[] = [];
const ratios: number[] = [];
const fixed: number[] = [];
const us: number[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    const ac = await autocannonRps(nginx.url, 50, SECONDS);
    const t = await turret(nginx.url, 50, SECONDS);
    ratios.push(t.throughput / ac);
    us.push(t.windowUsPerTx);
    fixed.push(t.perRunTime / ac);
    out.push({ ac, ...t });
  }
} finally {
  await nginx.stop();
}
console.log(
  JSON.stringify({
    tree: ROOT,
    rounds: out,
    ratio: median(ratios),
    ratios,
    ratioPerRunTime: median(fixed),
    ratiosPerRunTime: fixed,
    usPerTx: median(us),
    usPerTxRounds: us,
  }),
);
