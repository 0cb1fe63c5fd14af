// Start-up: seconds from `oct run demo` starting (just before the spawn) to the first shot, as
// the HQ recorded it (the earliest stored result's epoch minus its scriptrun_time, i.e. when that
// iteration began; and the earliest epoch, when its result was taken), on the scaffolded demo
// (`oct new-project`, two turrets, embedded database). And for `oct check` of the demo's script:
// seconds to its first result line on stdout. One cold run first (compiles and caches TypeScript,
// makes the PGlite template), then the median of `runs` warm ones. Ports are 0 (any free one), so
// tests running alongside on the demo's 5000/5001 do not collide.
// Run alone: node --import tsx bench/startup.ts [--runs 5]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OCT = join(ROOT, 'bin', 'oct.js');

export interface StartupResult {
  runs: number;
  /** Medians over the warm runs, seconds from the process start. */
  runFirstShotSeconds: number;
  runFirstResultSeconds: number;
  runFirstShot: number[];
  checkFirstResultSeconds: number;
  checkFirstResult: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r2 = (x: number) => Math.round(x * 100) / 100;

function oct(args: string[], cwd: string, onLine?: (line: string) => void): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [OCT, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (onLine) for (const l of String(d).split('\n')) onLine(l);
  });
  child.stderr.on('data', (d) => (out += d));
  return new Promise((res) => child.on('exit', (code) => res({ code, out })));
}

async function firstShot(dir: string, resultsDir: string): Promise<{ shot: number; result: number }> {
  const t0 = Date.now();
  const r = await oct(
    ['run', 'demo', '--run-time', '2', '--no-progress', '--results-dir', resultsDir, '--publish-port', '0', '--rc-port', '0', '--http-port', '0'],
    dir,
  );
  if (r.code !== 0) throw new Error(`oct run exited ${r.code}: ${r.out.slice(-2000)}`);
  const store = await openStore({ embeddedDir: join(resultsDir, 'db'), log: createLogger({ level: 'error' }) });
  try {
    const [row] = await store.sql.query<{ shot: number; result: number }>('SELECT min(epoch - scriptrun_time) AS shot, min(epoch) AS result FROM results');
    return { shot: Number(row!.shot) - t0 / 1000, result: Number(row!.result) - t0 / 1000 };
  } finally {
    await store.close();
  }
}

async function checkFirstResult(dir: string): Promise<number> {
  const t0 = performance.now();
  let first = 0;
  // A result line: "#1        96.1 ms  ok     Example_Timer=96.0ms".
  const r = await oct(['check', 'demo/test_scripts/v_user.ts', '--iterations', '3'], dir, (l) => {
    if (!first && /^#\d+\s+[\d.]+ ms\s+(ok|ERROR)/.test(l)) first = performance.now();
  });
  if (r.code !== 0 || !first) throw new Error(`oct check exited ${r.code} without a result line: ${r.out.slice(-2000)}`);
  return (first - t0) / 1000;
}

export async function benchStartup(opts: { runs?: number; log?: (l: string) => void } = {}): Promise<StartupResult> {
  const runs = opts.runs ?? 5;
  const log = opts.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'oct-bench-startup-'));
  try {
    const made = await oct(['new-project', join(dir, 'demo')], dir);
    if (made.code !== 0) throw new Error(`new-project failed: ${made.out}`);
    const shots: { shot: number; result: number }[] = [];
    const checks: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const s = await firstShot(dir, join(dir, `results-${i}`));
      const c = await checkFirstResult(dir);
      log(`${i === 0 ? 'cold' : `warm ${i}`}: oct run first shot ${r2(s.shot)} s (first result ${r2(s.result)} s); oct check first result ${r2(c)} s`);
      if (i === 0) continue;
      shots.push(s);
      checks.push(c);
    }
    return {
      runs,
      runFirstShotSeconds: r2(median(shots.map((s) => s.shot))),
      runFirstResultSeconds: r2(median(shots.map((s) => s.result))),
      runFirstShot: shots.map((s) => r2(s.shot)),
      checkFirstResultSeconds: r2(median(checks)),
      checkFirstResult: checks.map(r2),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf('--runs');
  const r = await benchStartup({ runs: i > 0 ? Number(process.argv[i + 1]) : undefined, log: (l) => console.log(l) });
  console.log(JSON.stringify(r));
  process.exit(0);
}
