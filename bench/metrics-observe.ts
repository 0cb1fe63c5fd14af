// Measures what the HQ pays per result of a turret that sends only rows (legacy turrets): the
// aggregator builds the per-second histogram deltas itself. Against the obvious alternative of calling
// prom-client's Histogram.observe and Counter.inc once per result. Run: node --import tsx bench/metrics-observe.ts
import { Counter, Histogram, Registry } from 'prom-client';
import { type ResultBatch, ResultBatchBuilder } from '../protocol/results.ts';
import { systemClock } from '../common/clock.ts';
import { Aggregator } from '../hq/aggregator.ts';
import { LATENCY_BUCKETS } from '../hq/metrics.ts';

function makeBatch(n: number, withTimer: boolean): ResultBatch {
  const b = new ResultBatchBuilder();
  for (let i = 0; i < n; i++) {
    // Log-normal-ish web latencies around 30 ms with a tail.
    const v = Math.exp(Math.log(0.03) + 0.8 * (Math.random() + Math.random() + Math.random() - 1.5));
    b.add({ elapsed: i / 1000, epoch: 1.7e9, scriptrunTime: v, error: i % 100 === 0 ? 'HTTP 500' : null, customTimers: withTimer ? { api: v * 0.8 } : {} });
  }
  return b.build({ turretUuid: 'u1', turretName: 'navigation', seq: 1 });
}

function nsPerResult(batches: ResultBatch[], fn: (b: ResultBatch) => void): number {
  const total = batches.reduce((s, b) => s + b.count, 0);
  for (const b of batches.slice(0, 20)) fn(b); // warm up the JIT
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (const b of batches) fn(b);
    runs.push(Number(process.hrtime.bigint() - t0) / total);
  }
  runs.sort((a, b) => a - b);
  return runs[2]!;
}

function promClientPerResult(): (b: ResultBatch) => void {
  const registry = new Registry();
  const hist = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['series'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const tx = new Counter({ name: 'tx_total', help: 'tx', labelNames: ['turret', 'series'], registers: [registry] });
  const err = new Counter({ name: 'err_total', help: 'err', labelNames: ['turret', 'series'], registers: [registry] });
  return (b) => {
    const turret = b.turretName ?? 'unnamed';
    for (let i = 0; i < b.count; i++) {
      hist.observe({ series: 'all' }, b.scriptrunTime[i]!);
      tx.inc({ turret, series: 'all' });
      if (b.errorIndex[i]! >= 0) err.inc({ turret, series: 'all' });
      for (let k = 0; k < b.timerNames.length; k++) {
        const v = b.timers[k]![i]!;
        if (Number.isNaN(v)) continue;
        hist.observe({ series: b.timerNames[k]! }, v);
        tx.inc({ turret, series: b.timerNames[k]! });
      }
    }
  };
}

const rows: string[] = [];
for (const [label, size, withTimer] of [
  ['batches of 2000, no timer', 2000, false],
  ['batches of 2000, 1 custom timer', 2000, true],
  ['legacy: 1 result per message', 1, false],
] as const) {
  // At most 200 distinct batches, cycled to 400k results: the cost measured is the method's, not
  // cache misses over hundreds of thousands of separate batch objects.
  const distinct = Array.from({ length: Math.min(200, 400_000 / size) }, () => makeBatch(size, withTimer));
  const batches = Array.from({ length: 400_000 / size }, (_, i) => distinct[i % distinct.length]!);
  const ours = new Aggregator({ clock: systemClock });
  const a = nsPerResult(batches, (b) => {
    ours.addRows(b, { uuid: b.turretUuid, name: b.turretName });
    ours.fold();
    ours.takeStoreRows();
  });
  const b = nsPerResult(batches, promClientPerResult());
  rows.push(`| ${label} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(1)}x |`);
}
console.log('| workload | Aggregator.addRows ns/result | prom-client per result ns/result | ratio |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(r);
