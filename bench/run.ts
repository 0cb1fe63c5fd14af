// `npm run bench`: every figure of BENCHMARKS.md in one run on this machine, each against a peer
// or a bound measured in the same run. Starts its own throwaway Postgres. `--only NAME[,NAME]`
// runs some: hq-ingest, curve, hq-merge, turret, scheduler, report, report-aggregates, store,
// canon-memory, startup, pglite-open.
import pg from 'pg';
// @ts-expect-error plain ESM helper shared with the test runner
import { startCluster } from '../scripts/pg-cluster.mjs';
import { benchHqIngest, formatHqIngest } from './hq-ingest.ts';
import { benchCanonMemory, formatCanonMemory } from './canon-memory.ts';
import { benchCurve, formatCurve } from './curve.ts';
import { benchHqMerge, formatHqMerge } from './hq-merge.ts';
import { benchReport } from './report.ts';
import { benchReportAggregates, formatReportAggregates } from './report-aggregates.ts';
import { benchSchedulerPrecision, formatSchedulerPrecision } from './scheduler-precision.ts';
import { benchPgliteOpen, formatPgliteOpen, ratioOf } from './pglite-open.ts';
import { benchStartup } from './startup.ts';
import { benchStoreIngest } from './store-ingest.ts';
import { benchGenerators, formatGenerators } from './generators.ts';

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? new Set(process.argv[onlyArg + 1]!.split(',')) : null;
const want = (name: string) => !only || only.has(name);

const cluster: { url: string; stop(): void } = await startCluster();
let n = 0;
async function freshDatabase(): Promise<string> {
  const name = `oct_bench_${process.pid}_${n++}`;
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  return cluster.url.replace(/\/[^/]*$/, `/${name}`);
}

const rows: [string, string, string][] = [];
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
try {
  if (want('hq-ingest')) {
    console.log('== HQ ingest: 2 sender processes at full speed → one HQ → Postgres');
    const r = await benchHqIngest({ senders: 2, seconds: 5, batchSize: 2000, databaseUrl: await freshDatabase() });
    console.log(formatHqIngest(r));
    rows.push([
      'HQ ingest into Postgres (stored/s, nothing lost)',
      `${fmt(r.storedPerSecond)}/s`,
      `sent ${fmt(r.sent)}, stored ${fmt(r.stored)}, lost ${r.lost}; received ${fmt(r.receivedPerSecond)}/s`,
    ]);
  }
  if (want('curve')) {
    console.log('== CURVE cost: the HQ ingest benchmark with CURVE off and on, in turns');
    const r = await benchCurve({ rounds: 2, seconds: 3, databaseUrl: await freshDatabase() });
    console.log(formatCurve(r));
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = (pick: (x: (typeof r.on)[number]) => number) => med(r.on.map(pick)) / med(r.off.map(pick));
    rows.push([
      'CURVE on / off: HQ ingest stored/s',
      ratio((x) => x.storedPerSecond).toFixed(3),
      `received/s while sending ${ratio((x) => x.receivedPerSecond).toFixed(3)}; senders' push rate ${ratio((x) => x.sentPerSecond).toFixed(3)}`,
    ]);
  }
  if (want('hq-merge')) {
    console.log('== HQ merge: 100 simulated oct turrets (2 processes) × 100,000 results/s in per-second aggregates → one HQ → Postgres; peer: raw rows');
    const r = await benchHqMerge({ turrets: 100, rate: 100_000, seconds: 10, rawSeconds: 5, url: await freshDatabase(), log: (l) => console.log(l) });
    console.log(JSON.stringify(r));
    console.log(formatHqMerge(r));
    const w = r.merge.window;
    rows.push([
      `HQ merge: ${r.turrets} turrets' per-second aggregates (represented results/s merged)`,
      `${fmt(w.resultsPerSecond)}/s`,
      `HQ ${fmt(w.cpuCores, 2)} cores (${fmt(r.merge.cpuPerTurretSecondMs, 2)} ms per turret-second), loop delay p99 ${fmt(w.loopDelayP99Ms, 1)} ms, ${fmt(r.merge.messagesPerSecond)} msg/s, ${fmt(r.merge.bytesPerTurretPerSecond / 1000, 1)} kB/s per turret; lost ${r.merge.lost}`,
    ]);
    if (r.raw) {
      const x = r.raw.window;
      rows.push([
        'HQ taking raw rows, same harness (2 senders, rows counted, not stored)',
        `${fmt(x.resultsPerSecond)}/s`,
        `HQ ${fmt(x.cpuCores, 2)} cores, JS thread ${fmt(x.elu * 100)}% busy, loop delay p99 ${fmt(x.loopDelayP99Ms, 1)} ms, ${fmt(r.raw.messagesPerSecond)} msg/s`,
      ]);
    }
  }
  if (want('turret')) {
    console.log(
      '== Generators on one core: wrk, autocannon, Locust FastHttpUser and one oct turret, 50 connections each, the same nginx; then side by side; then --workers 2 vs 1',
    );
    const r = await benchGenerators({ seconds: 8, rounds: 3, log: (l) => console.log(l) });
    console.log(JSON.stringify(r));
    console.log(formatGenerators(r));
    for (const peer of ['autocannon', 'locust', 'wrk'] as const) {
      const seq = r.ratios[peer];
      const side = r.sideBySide.peers[peer];
      if (!seq || !side) continue;
      rows.push([
        `Turret / ${peer}, one core (HTTP GET, 50 connections)`,
        `${fmt(side.ratio, 2)} side by side`,
        `in turns ${fmt(seq.rate, 2)} (rounds ${seq.rateRounds.map((x) => fmt(x, 2)).join(', ')}); CPU per request ${fmt(seq.cpu, 2)}`,
      ]);
    }
    if (r.workers)
      rows.push([
        'Turret --workers 2 / --workers 1 (2 cores, nginx on one)',
        fmt(r.workers.turret.ratio, 2),
        `autocannon -w 2 / -w 1: ${fmt(r.workers.autocannon.ratio, 2)}`,
      ]);
  }
  if (want('scheduler')) {
    console.log('== Open-model scheduler precision: one turret on one core at 1,000/s, 10,000/s and the highest it sustains, vs autocannon --overallRate');
    const r = await benchSchedulerPrecision();
    console.log(JSON.stringify(r));
    console.log(formatSchedulerPrecision(r));
    for (const p of r.points) {
      rows.push([
        `Open model at ${fmt(p.rate)}/s: achieved/target, schedule lag p99`,
        `${fmt(p.oct.achievedRatio * 100, 1)}%, ${fmt(p.oct.lagP99MedianMs, 2)} ms`,
        `lag p99 worst second ${fmt(p.oct.lagP99MaxMs, 2)} ms, dropped ${fmt(p.oct.droppedRatio * 100, 2)}%, request p99 ${fmt(p.oct.serviceP99Ms, 2)} ms (median of seconds ${fmt(p.oct.serviceP99MedianMs, 2)} ms), attempts ${p.octAttempts.map((x) => `${fmt(x * 100, 1)}%`).join(', ')}; autocannon --overallRate ${fmt(p.autocannon.achievedRatio * 100, 1)}%, p99 ${fmt(p.autocannon.latencyP99Ms, 2)} ms`,
      ]);
    }
    rows.push([
      'Open model: highest sustained rate, one core',
      `${r.highestSustained === null ? 'none' : `${fmt(r.highestSustained)}/s`}`,
      `lowest not sustained ${r.lowestFailed === null ? 'none tried' : `${fmt(r.lowestFailed)}/s`}; search ended: ${r.searchEnd}`,
    ]);
  }
  if (want('report')) {
    console.log('== Report over 1,000,000 stored results');
    const r = await benchReport({ url: await freshDatabase(), rows: 1_000_000 });
    console.log(r);
    rows.push([
      'Report over 1,000,000 results',
      `${fmt(r.reportSeconds, 2)} s`,
      `peak RSS ${fmt(r.peakRssMb)} MB (before the report ${fmt(r.rssBeforeReportMb)} MB); HTML ${fmt(r.htmlBytes / 1024)} KiB`,
    ]);
  }
  if (want('report-aggregates')) {
    console.log(
      '== Report from aggregates: 100M and 1M results (4 turrets × 3 series × 2,000 s), embedded and Postgres; peer: the exact SQL report over 1M rows',
    );
    const r = await benchReportAggregates({ url: await freshDatabase(), repeat: 3, log: (l) => console.log(l) });
    console.log(JSON.stringify(r.stores));
    console.log(formatReportAggregates(r.stores));
    for (const s of r.stores) {
      const of = (run: string, exact: boolean) => s.reports.find((x) => x.run === run && x.exact === exact)!;
      const [big, small, exact] = [of('agg-100M', false), of('agg-1M', false), of('raw-1M', true)];
      rows.push([
        `Report from aggregates over 100,000,000 results, ${s.store}`,
        `${fmt(big.coldSeconds, 2)} s`,
        `1M results, same shape: ${fmt(small.coldSeconds, 2)} s; read + stats ${fmt(big.readStatsSeconds, 2)} s vs ${fmt(small.readStatsSeconds, 2)} s; exact SQL report over 1M rows: ${fmt(exact.coldSeconds, 2)} s`,
      ]);
    }
  }
  if (want('store')) {
    console.log('== Result writer alone, 200k rows: Postgres server and embedded (PGlite)');
    const p = await benchStoreIngest({ url: await freshDatabase(), rows: 200_000 });
    const e = await benchStoreIngest({ rows: 200_000 });
    console.log(p, e);
    rows.push(['Result writer → Postgres server', `${fmt(p.rowsPerSec)}/s`, `HQ thread busy ${fmt(p.callerElu * 100)}%`]);
    rows.push([
      'Result writer → embedded PGlite (worker thread)',
      `${fmt(e.rowsPerSec)}/s`,
      `HQ thread busy ${fmt(e.callerElu * 100)}%; open ${fmt(e.openMs)} ms`,
    ]);
  }
  if (want('canon-memory')) {
    console.log('== Canon memory: one turret process, 10,000 and 100,000 canons sleeping in a closed-model transaction, real HQ');
    const r = await benchCanonMemory({ url: await freshDatabase(), log: (l) => console.log(l) });
    console.log(formatCanonMemory(r));
    for (const p of r)
      rows.push([
        `Turret RSS with ${fmt(p.canons)} sleeping canons`,
        `${fmt(p.rssMb)} MiB`,
        `${fmt(p.bytesPerCanon)} B per canon over the ready turret's ${fmt(p.readyRssMb)} MiB; peak (VmHWM) ${fmt(p.peakRssMb)} MiB; all running ${p.startSeconds} s after start`,
      ]);
  }
  if (want('startup')) {
    console.log(
      '== Start-up: `oct run demo` (two turrets, embedded database) to the first shot, and `oct check` to its first result; one cold run, then 5 warm',
    );
    const r = await benchStartup({ runs: 5, log: (l) => console.log(l) });
    console.log(JSON.stringify(r));
    rows.push([
      '`oct run demo` start to first shot (median of 5 warm runs)',
      `${fmt(r.runFirstShotSeconds, 2)} s`,
      `first result stored ${fmt(r.runFirstResultSeconds, 2)} s; runs ${r.runFirstShot.map((x) => fmt(x, 2)).join(', ')} s`,
    ]);
    rows.push([
      '`oct check` start to first result (median of 5 warm runs)',
      `${fmt(r.checkFirstResultSeconds, 2)} s`,
      `runs ${r.checkFirstResult.map((x) => fmt(x, 2)).join(', ')} s`,
    ]);
  }
  if (want('pglite-open')) {
    console.log("== PGlite's open with the WASM tier-up deferred (as the store's worker) and at V8's default, alternating child processes");
    const r = await benchPgliteOpen({ rounds: 5 });
    console.log(formatPgliteOpen(r));
    rows.push([
      'PGlite open, tier-up deferred / default (CPU of the open)',
      ratioOf(r, (x) => x.openCpuMs).toFixed(2),
      `wall ${ratioOf(r, (x) => x.openMs).toFixed(2)}; a 400k-row COPY after a 100k-row warm-up ${ratioOf(r, (x) => x.copyMs).toFixed(2)}`,
    ]);
  }
} finally {
  cluster.stop();
}

console.log('\n| benchmark | figure | detail |\n|---|---|---|');
for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
process.exit(0);
