// `npm run bench`: every figure of BENCHMARKS.md in one run on this machine, each against a peer
// or a bound measured in the same run. Starts its own throwaway Postgres. `--only NAME[,NAME]`
// runs some: hq-ingest, turret, scheduler, report, store.
import pg from 'pg';
// @ts-expect-error plain ESM helper shared with the test runner
import { startCluster } from '../scripts/pg-cluster.mjs';
import { benchHqIngest, formatHqIngest } from './hq-ingest.ts';
import { benchReport } from './report.ts';
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
