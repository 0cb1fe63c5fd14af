import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock } from '../common/clock.ts';
import { DeltaBuilder, OTHER_SERIES } from '../protocol/aggregate.ts';
import { ALL_TRANSACTIONS_SERIES, ResultBatchBuilder } from '../protocol/results.ts';
import { Aggregator } from './aggregator.ts';

function fakeClock(): Clock & { t: number } {
  const c = { t: 1_000_000, now: () => c.t, monotonic: () => c.t };
  return c;
}

function batch(rows: { t: number; error?: string; timers?: Record<string, number>; elapsed?: number }[]) {
  const b = new ResultBatchBuilder();
  for (const r of rows) b.add({ elapsed: r.elapsed ?? 1, epoch: 1, scriptrunTime: r.t, error: r.error ?? null, customTimers: r.timers ?? {} });
  return b.build({ turretUuid: null, turretName: null, seq: null });
}

test('rows and deltas are counted once each, per turret and series, with errors and the rate', () => {
  const clock = fakeClock();
  const agg = new Aggregator({ clock });
  agg.addRows(batch([{ t: 0.1 }, { t: 0.2, error: 'x' }, { t: 0.3, timers: { login: 0.05 } }]), { uuid: null, name: 'nav' });
  assert.equal(agg.transactions, 0, 'rows count at the next fold');
  agg.fold();
  clock.t += 1000;
  const d = new DeltaBuilder();
  d.record(0.5, 0.4, null, null);
  agg.addDeltas({ uuid: 'u2', name: null }, d.take(), 9);
  clock.t += 1000;
  const s = agg.snapshot();
  assert.equal(s.transactions, 4);
  assert.equal(s.errors, 1);
  assert.deepEqual(s.turrets, { nav: { transactions: 3, errors: 1 }, u2: { transactions: 1, errors: 0 } });
  assert.equal(s.ratePerSecond, 4 / 5, '4 results over the last 5 whole seconds');
  const all = s.series.find((x) => x.name === ALL_TRANSACTIONS_SERIES)!;
  assert.equal(all.count, 4);
  assert.equal(all.max, 0.4);
  assert.equal(all.errors, 1);
  assert.equal(s.series.find((x) => x.name === 'login')!.count, 1);
  const stored = agg.takeStoreRows();
  assert.equal(
    stored.rows.reduce((a, r) => a + (r.series === ALL_TRANSACTIONS_SERIES ? r.hist.n : 0), 0),
    4,
  );
  assert.deepEqual(
    stored.errors.map((e) => [e.message, e.count, e.turretName]),
    [['x', 1, 'nav']],
  );
  assert.deepEqual(stored.delivered, [{ uuid: 'u2', seq: 9 }], 'the numbered message goes with the rows it was merged into');
  assert.deepEqual(agg.takeStoreRows(), { rows: [], errors: [], delivered: [] }, 'each delta goes to the store once');
});

test('a new custom timer series beyond the cap is refused, never merged; rows fold into "other"', () => {
  const agg = new Aggregator({ clock: fakeClock(), maxTimerSeries: 2 });
  agg.addRows(batch([{ t: 0.1, timers: { a: 1, b: 2, c: 3, d: 4 } }]), { uuid: null, name: 'x' });
  agg.fold();
  const names = agg.seriesNames().sort();
  assert.deepEqual(names, [ALL_TRANSACTIONS_SERIES, 'a', 'b', OTHER_SERIES].sort());
  assert.equal(agg.series(OTHER_SERIES)!.count, 2);
  // A turret that does not fold names itself: its third name is refused.
  const d = new DeltaBuilder(10);
  d.record(1, 0.1, null, { e: 0.01 });
  assert.equal(agg.addDeltas({ uuid: 'u', name: 'y' }, d.take()), 1);
  assert.equal(agg.refusedSeries, 1);
  assert.equal(agg.series('e'), null);
  assert.equal(agg.transactions, 2, 'the transaction itself still counts');
});

test('sliding windows see the last whole seconds of watched series only', () => {
  const clock = fakeClock();
  const agg = new Aggregator({ clock, windowSeconds: 10 });
  agg.watch('login');
  for (let s = 0; s < 20; s++) {
    const d = new DeltaBuilder();
    for (let i = 0; i < 10; i++) d.record(s, s < 15 ? 0.01 : 1, s >= 15 && i === 0 ? 'slow' : null, { login: 0.02, other: 0.03 });
    agg.addDeltas({ uuid: 'u', name: 't' }, d.take());
    clock.t += 1000;
  }
  const w = agg.window(5);
  assert.equal(w.transactions, 50);
  assert.equal(w.errors, 5);
  assert.equal(w.series(ALL_TRANSACTIONS_SERIES)!.hist.percentile(0.5), 1);
  assert.equal(w.series(ALL_TRANSACTIONS_SERIES)!.errors, 5);
  assert.equal(w.series('login')!.hist.count, 50);
  assert.equal(w.series('other'), null, 'not watched');
  assert.equal(agg.window(60).seconds, 10, 'capped at the longest window asked for');
  assert.equal(agg.series(ALL_TRANSACTIONS_SERIES)!.count, 200);
});

test('deltas of one second, turret and series reach the store as one merged row', () => {
  const agg = new Aggregator({ clock: fakeClock() });
  for (let k = 0; k < 3; k++) {
    const d = new DeltaBuilder();
    d.record(4.2, 0.01 * (k + 1), k === 0 ? 'boom' : null, null);
    d.record(5.1, 0.5, null, null);
    agg.addDeltas({ uuid: 'u', name: 't' }, d.take());
  }
  const { rows, errors } = agg.takeStoreRows();
  assert.deepEqual(
    rows.map((r) => [r.second, r.series, r.hist.n, r.errors]),
    [
      [4, ALL_TRANSACTIONS_SERIES, 3, 1],
      [5, ALL_TRANSACTIONS_SERIES, 3, 0],
    ],
  );
  assert.equal(rows[0]!.hist.min, 0.01);
  assert.equal(rows[0]!.hist.max, 0.03);
  assert.deepEqual(
    errors.map((e) => [e.second, e.message, e.count]),
    [[4, 'boom', 1]],
  );
});
