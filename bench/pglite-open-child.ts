// One PGlite open in a process of its own (so V8's state is fresh, as in the store's worker): a
// copy of oct's migrated template opened with the WASM tier-up deferred (as store/pglite-worker.ts
// does) or at V8's default; then the first query, and a COPY once a warm-up COPY has made its code
// hot (what the deferral must not slow). Prints one JSON line.
// node --import tsx bench/pglite-open-child.ts deferred|default TEMPLATE_DIR
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { deferWasmTierUp } from '../store/wasm-tier-up.ts';

const [mode, templateDir] = process.argv.slice(2);
if ((mode !== 'deferred' && mode !== 'default') || !templateDir) throw new Error('usage: pglite-open-child.ts deferred|default TEMPLATE_DIR');
const work = mkdtempSync(join(tmpdir(), 'oct-pglite-open-'));
const dataDir = join(work, 'db');
cpSync(templateDir, dataDir, { recursive: true });

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
// As the worker: something alive on the loop while PGlite opens (see store/pglite-worker.ts).
const alive = setInterval(() => {}, 60_000);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (mode === 'deferred') deferWasmTierUp(true);
const db = await PGlite.create({ dataDir });
await db.waitReady;
if (mode === 'deferred') deferWasmTierUp(false);
const openMs = performance.now() - t0;
const openCpuMs = cpuMs(process.cpuUsage(cpu0));
clearInterval(alive);

const t1 = performance.now();
await db.query('SELECT count(*) FROM runs');
const firstQueryMs = performance.now() - t1;

await db.exec('CREATE TEMP TABLE copied (a int, b double precision, c text)');
const rows = (n: number) => {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`${i}\t${i * 0.001}\terror ${i % 7}\n`);
  return new Blob(lines);
};
await db.query("COPY copied FROM '/dev/blob'", [], { blob: rows(Number(process.env.OCT_BENCH_WARMUP_ROWS ?? 100_000)) });
const copyRows = 400_000;
const blob = rows(copyRows);
const t2 = performance.now();
await db.query("COPY copied FROM '/dev/blob'", [], { blob });
const copyMs = performance.now() - t2;
await db.close();
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ mode, openMs, openCpuMs, firstQueryMs, copyRows, copyMs }));
