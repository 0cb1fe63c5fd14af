// PGlite's open with the WASM tier-up deferred (store/wasm-tier-up.ts, what the store's worker
// does) against V8's default, in alternating child processes: wall and CPU of the open, the first
// query, and a 400k-row COPY after a warm-up (the deferral must not leave hot code slower).
// Run alone: node --import tsx bench/pglite-open.ts [--rounds 5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';
import { templateDirFor } from '../store/pglite-template.ts';
import { MIGRATIONS } from '../store/schema.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface OpenSample {
  mode: 'deferred' | 'default';
  openMs: number;
  openCpuMs: number;
  firstQueryMs: number;
  copyRows: number;
  copyMs: number;
}

export interface PgliteOpenResult {
  rounds: number;
  deferred: OpenSample[];
  default: OpenSample[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function benchPgliteOpen(opts: { rounds: number }): Promise<PgliteOpenResult> {
  // Opening a store once makes sure the migrated template exists (it is built on first use).
  const scratch = mkdtempSync(join(tmpdir(), 'oct-pglite-open-template-'));
  await (await openStore({ embeddedDir: join(scratch, 'db'), log: createLogger({ level: 'warn' }) })).close();
  rmSync(scratch, { recursive: true, force: true });
  const templateDir = templateDirFor(MIGRATIONS);
  const out: PgliteOpenResult = { rounds: opts.rounds, deferred: [], default: [] };
  for (let i = 0; i < opts.rounds; i++) {
    for (const mode of ['deferred', 'default'] as const) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'pglite-open-child.ts'), mode, templateDir], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (r.status !== 0) throw new Error(`pglite-open-child ${mode} exited ${r.status}: ${r.stderr}`);
      out[mode].push(JSON.parse(r.stdout.trim().split('\n').pop()!) as OpenSample);
    }
  }
  return out;
}

export function formatPgliteOpen(r: PgliteOpenResult): string {
  const line = (mode: 'deferred' | 'default') => {
    const s = r[mode];
    const m = (pick: (x: OpenSample) => number) => median(s.map(pick)).toFixed(0);
    return `${mode.padEnd(8)}  open ${m((x) => x.openMs)} ms (CPU ${m((x) => x.openCpuMs)} ms)  first query ${m((x) => x.firstQueryMs)} ms  COPY of ${s[0]!.copyRows} rows ${m((x) => x.copyMs)} ms`;
  };
  return [
    `medians of ${r.rounds} alternating runs each`,
    line('deferred'),
    line('default'),
    `CPU of the open deferred/default ${ratioOf(r, (x) => x.openCpuMs).toFixed(2)}; COPY ${ratioOf(r, (x) => x.copyMs).toFixed(2)}`,
  ].join('\n');
}

export function ratioOf(r: PgliteOpenResult, pick: (x: OpenSample) => number): number {
  return median(r.deferred.map(pick)) / median(r.default.map(pick));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
  console.log(formatPgliteOpen(await benchPgliteOpen({ rounds })));
}
