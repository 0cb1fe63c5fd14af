// Canon memory: the RSS of one real `oct turret` process holding N canons, each in a closed-model
// transaction that sleeps (so the figure is the canons' own cost, not traffic), driven by a real
// HQ on 127.0.0.1 storing into Postgres. Per-canon bytes = (RSS with N canons − RSS of the same
// turret ready, before `start`) / N.
// Run alone: node --import tsx bench/canon-memory.ts [--canons 10000,100000] [--sleep 10]
// (OCT_BENCH_HEAP_SNAPSHOT=1 adds --heapsnapshot-signal=SIGUSR2 and writes one snapshot per count in the temp dir.)
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../common/log.ts';
import { Hq } from '../hq/hq.ts';
import { parseProjectConfig } from '../protocol/config.ts';
import { openPostgresStore } from '../store/postgres.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OCT = join(ROOT, 'bin', 'oct.js');

export interface CanonMemoryPoint {
  canons: number;
  /** VmRSS of the turret when ready (script loaded, sockets up), before `start`, MiB. */
  readyRssMb: number;
  /** Highest VmRSS sampled once every canon runs (a few samples over ~3 s), MiB. */
  rssMb: number;
  /** VmHWM: the process's peak RSS over its life up to then, MiB. */
  peakRssMb: number;
  /** (rss − ready rss) / canons. */
  bytesPerCanon: number;
  /** Seconds from `start` until the HQ saw every canon running. */
  startSeconds: number;
}

const SCRIPT = (sleepMs: number) => `
export class Transaction {
  customTimers = {};
  async run() { await new Promise((r) => setTimeout(r, ${sleepMs})); }
}
`;

function procStatus(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

async function until<T>(what: string, timeoutMs: number, fn: () => T | null | undefined | false): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function measure(canons: number, opts: { url: string; sleepSeconds: number; dir: string; log: (l: string) => void }): Promise<CanonMemoryPoint> {
  const log = createLogger({ level: 'warn', component: 'bench' });
  const store = await openPostgresStore(opts.url, log);
  await store.migrate();
  const child: { p: ChildProcess | null } = { p: null };
  try {
    const hq = await Hq.bind({
      // No run_time end in sight: the bench stops the run itself once it has its samples.
      config: parseProjectConfig({ publish_port: 0, rc_port: 0, min_turrets: 1, run_time: 600, stop_grace: 30, turrets_wait_timeout: 120 }),
      store,
      runName: `canon-memory-${canons}-${Date.now()}`,
      log,
      bindHost: '127.0.0.1',
      spillDir: mkdtempSync(join(opts.dir, 'spill-')),
    });
    const ac = new AbortController();
    writeFileSync(join(opts.dir, 'sleep.ts'), SCRIPT(opts.sleepSeconds * 1000));
    const configFile = join(opts.dir, `turret-${canons}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        name: 'mem',
        canons,
        rampup: 0,
        script: 'sleep.ts',
        hq_address: '127.0.0.1',
        hq_publisher: hq.endpoints.publishPort,
        hq_rc: hq.endpoints.resultsPort,
      }),
    );
    const readyRss = { rss: 0 };
    let startedAt = 0;
    const runDone = hq.run(ac.signal);
    const extra = process.env.OCT_BENCH_HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${opts.dir}`] : [];
    const p = spawn(process.execPath, [...extra, OCT, 'turret', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], cwd: opts.dir });
    child.p = p;
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const turret = () => hq.status().turrets[0];
    // Ready is the state before `start`; the HQ starts once min_turrets are ready, so sample as soon as it shows.
    await until('the turret to join', 120_000, () => {
      if (p.exitCode !== null) throw new Error(`turret exited ${p.exitCode}: ${stderr}`);
      if (turret() && !readyRss.rss) readyRss.rss = procStatus(p.pid!).rss;
      return turret();
    });
    await until('the run to start', 120_000, () => {
      if (hq.progress().state === 'running' && !startedAt) startedAt = performance.now();
      return startedAt;
    });
    await until(`${canons} canons running`, 300_000, () => {
      if (p.exitCode !== null) throw new Error(`turret exited ${p.exitCode}: ${stderr}`);
      return (turret()?.canonsRunning ?? 0) >= canons;
    });
    const startSeconds = (performance.now() - startedAt) / 1000;
    let rss = 0;
    for (let i = 0; i < 6; i++) {
      rss = Math.max(rss, procStatus(p.pid!).rss);
      await sleep(500);
    }
    const { hwm } = procStatus(p.pid!);
    if (process.env.OCT_BENCH_HEAP_SNAPSHOT) {
      p.kill('SIGUSR2');
      await sleep(canons >= 50_000 ? 30_000 : 8000);
    }
    ac.abort();
    p.kill('SIGTERM');
    await runDone.catch(() => {});
    await hq.close();
    const point = {
      canons,
      readyRssMb: mb(readyRss.rss),
      rssMb: mb(rss),
      peakRssMb: mb(hwm),
      bytesPerCanon: Math.round((rss - readyRss.rss) / canons),
      startSeconds: Math.round(startSeconds * 10) / 10,
    };
    opts.log(JSON.stringify(point));
    return point;
  } finally {
    if (child.p && child.p.exitCode === null) {
      await Promise.race([new Promise((r) => child.p!.once('exit', r)), sleep(10_000)]);
      if (child.p.exitCode === null) child.p.kill('SIGKILL');
    }
    await store.close();
  }
}

export async function benchCanonMemory(opts: {
  url: string;
  counts?: number[];
  sleepSeconds?: number;
  log?: (l: string) => void;
}): Promise<CanonMemoryPoint[]> {
  const dir = mkdtempSync(join(tmpdir(), 'oct-bench-canons-'));
  const points: CanonMemoryPoint[] = [];
  try {
    for (const canons of opts.counts ?? [10_000, 100_000])
      points.push(await measure(canons, { url: opts.url, sleepSeconds: opts.sleepSeconds ?? 10, dir, log: opts.log ?? (() => {}) }));
  } finally {
    if (!process.env.OCT_BENCH_HEAP_SNAPSHOT) rmSync(dir, { recursive: true, force: true });
    else console.error(`heap snapshots in ${dir}`);
  }
  return points;
}

export function formatCanonMemory(points: CanonMemoryPoint[]): string {
  return points
    .map(
      (p) =>
        `${p.canons} canons: RSS ${p.rssMb} MiB (ready ${p.readyRssMb} MiB, peak ${p.peakRssMb} MiB), ${p.bytesPerCanon} B/canon, all running ${p.startSeconds} s after start`,
    )
    .join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // @ts-expect-error plain ESM helper shared with the test runner
  const { startCluster } = await import('../scripts/pg-cluster.mjs');
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const cluster: { url: string; stop(): void } = await startCluster();
  try {
    const points = await benchCanonMemory({
      url: cluster.url,
      counts: arg('--canons')?.split(',').map(Number),
      sleepSeconds: arg('--sleep') ? Number(arg('--sleep')) : undefined,
      log: (l) => console.log(l),
    });
    console.log(formatCanonMemory(points));
  } finally {
    cluster.stop();
  }
  process.exit(0);
}
