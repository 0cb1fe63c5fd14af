// `npm run bench`: every figure of BENCHMARKS.md in one run on this machine, each against a peer
// or a bound measured in the same run. Starts its own throwaway Postgres. `--only NAME[,NAME]`
// runs some: hq-ingest, hq-merge, turret, scheduler, report, report-aggregates, store.
import pg from 'pg';
// @ts-expect-error plain ESM helper shared with the test runner
import { startCluster } from '../scripts/pg-cluster.mjs';
import { benchHqIngest, formatHqIngest } from './hq-ingest.ts';
import { benchHqMerge, formatHqMerge } from './hq-merge.ts';
import { benchReport } from './report.ts';
import { benchReportAggregates, formatReportAggregates } from './report-aggregates.ts';
import { benchSchedulerPrecision, formatSchedulerPrecision } from './scheduler-precision.ts';
import { benchStoreIngest } from './store-ingest.ts';
import { benchTurretEfficiency } from './turret-efficiency.ts';

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
    console.log('== Turret efficiency: one turret, 50 canons, HTTP GET vs autocannon -c 50, same core, same nginx');
    const r = await benchTurretEfficiency({ seconds: 5, connections: 50, rounds: 3 });
    console.log(r);
    rows.push([
      'Turret HTTP GET rate / autocannon (one core)',
      `${fmt(r.ratio * 100)}%`,
      `turret ${fmt(r.turretRps)}/s, autocannon ${fmt(r.autocannonRps)}/s (medians of ${r.rounds} rounds, ratios ${r.ratios.map((x) => x.toFixed(2)).join(', ')})`,
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
} finally {
  cluster.stop();
}

console.log('\n| benchmark | figure | detail |\n|---|---|---|');
for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
process.exit(0);
