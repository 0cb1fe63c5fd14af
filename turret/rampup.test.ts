import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { rampupSchedule } from './rampup.ts';

const canons = fc.integer({ min: 0, max: 2000 });
// Real rampups: 0, or at least a millisecond (subnormal doubles only test float rounding).
const rampup = fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 3600, noNaN: true, noDefaultInfinity: true }));

test('one offset per canon, the first at 0, non-decreasing, all before rampup ends', () => {
  fc.assert(
    fc.property(canons, rampup, (n, r) => {
      const s = rampupSchedule(n, r);
      assert.equal(s.length, n);
      if (n > 0) assert.equal(s[0], 0);
      for (let i = 1; i < n; i++) assert.ok(s[i]! >= s[i - 1]!);
      for (const t of s) assert.ok(t >= 0 && (r === 0 ? t === 0 : t < r * 1000));
    }),
  );
});

test('evenly spaced: canons/rampup canons start per second', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2000 }), fc.double({ min: 0.001, max: 3600, noNaN: true }), (n, r) => {
      const s = rampupSchedule(n, r);
      const step = (r * 1000) / n;
      s.forEach((t, i) => assert.ok(Math.abs(t - i * step) <= 1e-6 * Math.max(1, t)));
      // Any window of one second holds canons/rampup starts, give or take one.
      const perSecond = n / r;
      for (let w = 0; w < r; w += Math.max(1, r / 7)) {
        const inWindow = s.filter((t) => t >= w * 1000 && t < (w + 1) * 1000).length;
        if (w + 1 <= r) assert.ok(Math.abs(inWindow - perSecond) <= 1 + 1e-9, `window ${w}: ${inWindow} vs ${perSecond}`);
      }
    }),
  );
});

test('rampup 0 starts every canon at once', () => {
  fc.assert(fc.property(canons, (n) => assert.ok(rampupSchedule(n, 0).every((t) => t === 0))));
});

test('the documented example: 30 canons over 15 s spawn 2 per second', () => {
  const s = rampupSchedule(30, 15);
  assert.deepEqual(s.slice(0, 4), [0, 500, 1000, 1500]);
  assert.equal(s.at(-1), 14500);
});

test('rejects nonsense', () => {
  assert.throws(() => rampupSchedule(-1, 0), RangeError);
  assert.throws(() => rampupSchedule(1.5, 0), RangeError);
  assert.throws(() => rampupSchedule(2, -1), RangeError);
  assert.throws(() => rampupSchedule(2, Infinity), RangeError);
});
