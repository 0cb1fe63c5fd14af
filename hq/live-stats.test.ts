import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Clock } from '../common/clock.ts';
import { ResultBatchBuilder } from '../protocol/results.ts';
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import { LiveStats, OTHER_SERIES } from './live-stats.ts';

function fakeClock(): Clock & { t: number } {
  const c = { t: 1_000_000, now: () => c.t, monotonic: () => c.t };
  return c;
}

function batch(rows: { t: number; error?: string; timers?: Record<string, number> }[]) {
  const b = new ResultBatchBuilder();
  for (const r of rows) b.add({ elapsed: 1, epoch: 1, scriptrunTime: r.t, error: r.error ?? null, customTimers: r.timers ?? {} });
  return b.build({ turretUuid: null, turretName: null, seq: null });
}

test('counts per turret and per series, errors, rate', () => {
  const clock = fakeClock();
  const live = new LiveStats({ clock, rateWindowSeconds: 2 });
  live.add(batch([{ t: 0.1 }, { t: 0.2, error: 'x' }, { t: 0.3, timers: { login: 0.05 } }]), 'nav');
  clock.t += 1000;
  live.add(batch([{ t: 0.4 }]), null);
  clock.t += 1000;
  const s = live.snapshot();
  assert.equal(s.transactions, 4);
  assert.equal(s.errors, 1);
  assert.deepEqual(s.turrets, { nav: { transactions: 3, errors: 1 }, unnamed: { transactions: 1, errors: 0 } });
  assert.equal(s.ratePerSecond, 2, '4 results over the last 2 whole seconds');
  const all = s.series.find((x) => x.name === ALL_TRANSACTIONS_SERIES)!;
  assert.equal(all.count, 4);
  assert.ok(Math.abs(all.max - 0.4) < 0.001);
  assert.equal(s.series.find((x) => x.name === 'login')!.count, 1);
});

test('custom timer names beyond the cap fold into "other"', () => {
  const live = new LiveStats({ clock: fakeClock(), maxTimerSeries: 2 });
  live.add(batch([{ t: 0.1, timers: { a: 1, b: 2, c: 3, d: 4 } }]), 'x');
  const names = live
    .snapshot()
    .series.map((s) => s.name)
    .sort();
  assert.deepEqual(names, [ALL_TRANSACTIONS_SERIES, 'a', 'b', OTHER_SERIES].sort());
  assert.equal(live.snapshot().foldedTimerNames, 2);
  assert.equal(live.snapshot().series.find((s) => s.name === OTHER_SERIES)!.count, 2);
});

test('histograms from two HQs merge to the histogram of all values', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0.000001, max: 100, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.nat(200), (values, cut) => {
      const k = Math.min(cut, values.length);
      const a = new LiveStats({ clock: fakeClock() });
      const b = new LiveStats({ clock: fakeClock() });
      const both = new LiveStats({ clock: fakeClock() });
      a.add(batch(values.slice(0, k).map((t) => ({ t }))), 'x');
      b.add(batch(values.slice(k).map((t) => ({ t }))), 'x');
      both.add(batch(values.map((t) => ({ t }))), 'x');
      const merged = a.histogram(ALL_TRANSACTIONS_SERIES)!;
      merged.add(b.histogram(ALL_TRANSACTIONS_SERIES)!);
      const whole = both.histogram(ALL_TRANSACTIONS_SERIES)!;
      assert.equal(merged.totalCount, values.length);
      for (const p of [50, 90, 99, 100]) assert.equal(merged.getValueAtPercentile(p), whole.getValueAtPercentile(p));
    }),
    { numRuns: 50 },
  );
});
