import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  apportion,
  canonsAt,
  cumulativeAt,
  type LoadShape,
  parsePlanWire,
  planToWire,
  shapeDuration,
  shareOf,
  targetAt,
  timeOfCumulative,
  type TurretPlan,
} from './load-plan.ts';
import { parseOrder } from './orders.ts';

const shapeArb: fc.Arbitrary<LoadShape> = fc.record({
  startTarget: fc.double({ min: 0, max: 5000, noNaN: true }),
  stages: fc.array(
    fc.record({ duration: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 600, noNaN: true })), target: fc.double({ min: 0, max: 5000, noNaN: true }) }),
    { minLength: 1, maxLength: 8 },
  ),
});

test('targetAt ramps linearly between stage targets and holds the last one', () => {
  const shape: LoadShape = {
    startTarget: 0,
    stages: [
      { duration: 30, target: 500 },
      { duration: 120, target: 500 },
      { duration: 0, target: 2000 },
      { duration: 10, target: 2000 },
      { duration: 20, target: 0 },
    ],
  };
  assert.equal(targetAt(shape, -1), 0);
  assert.equal(targetAt(shape, 15), 250);
  assert.equal(targetAt(shape, 100), 500);
  assert.equal(targetAt(shape, 150), 2000, 'a 0 s stage is a jump');
  assert.equal(targetAt(shape, 170), 1000);
  assert.equal(targetAt(shape, 500), 0);
  assert.equal(shapeDuration(shape), 180);
  // ∫: the ramp 0→500 over 30 s is 7,500 iterations; the plateau 60,000; the spike 20,000; down 20,000.
  const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} vs ${b}`);
  near(cumulativeAt(shape, 30), 7500);
  near(cumulativeAt(shape, 180), 7500 + 60000 + 20000 + 20000);
});

test('cumulativeAt is the integral of targetAt (trapezoids over fine steps)', () => {
  fc.assert(
    fc.property(shapeArb, fc.double({ min: 0, max: 1, noNaN: true }), (shape, frac) => {
      const t = frac * (shapeDuration(shape) + 10);
      const steps = 4000;
      let sum = 0;
      for (let i = 0; i < steps; i++) {
        const a = (t * i) / steps;
        const b = (t * (i + 1)) / steps;
        sum += ((targetAt(shape, a) + targetAt(shape, b)) / 2) * (b - a);
      }
      // Jumps (0 s stages) make the trapezoid rule off by at most one step's worth of the jump.
      const tolerance = 1e-6 * Math.max(1, sum) + (t / steps) * 5000 * shape.stages.length;
      assert.ok(Math.abs(cumulativeAt(shape, t) - sum) <= tolerance, `t=${t}: ${cumulativeAt(shape, t)} vs ${sum}`);
    }),
    { numRuns: 200 },
  );
});

test('timeOfCumulative inverts cumulativeAt wherever the count is reached', () => {
  fc.assert(
    fc.property(shapeArb, fc.double({ min: 0, max: 1, noNaN: true }), (shape, frac) => {
      const end = shapeDuration(shape) + 5;
      const count = frac * cumulativeAt(shape, end);
      const t = timeOfCumulative(shape, count);
      assert.ok(Number.isFinite(t), `count ${count} reached by ${end}`);
      assert.ok(Math.abs(cumulativeAt(shape, t) - count) <= 1e-6 * Math.max(1, count), `C(${t}) = ${cumulativeAt(shape, t)}, wanted ${count}`);
    }),
    // A count that underflows 2·slope·c (found by CI: a ramp from 0, count 5e-324) is a case of its own.
    {
      numRuns: 500,
      examples: [
        [
          {
            startTarget: 0,
            stages: [
              { duration: 0.01, target: 0.00041665972233796174 },
              { duration: 600, target: 0 },
            ],
          },
          2e-323,
        ],
      ],
    },
  );
});

test('timeOfCumulative is Infinity when the rate falls to 0 for good before the count', () => {
  const shape: LoadShape = { startTarget: 10, stages: [{ duration: 10, target: 0 }] };
  assert.equal(cumulativeAt(shape, 100), 50);
  assert.equal(timeOfCumulative(shape, 51), Infinity);
  assert.ok(Math.abs(timeOfCumulative(shape, 50) - 10) < 1e-9);
});

test('apportion splits a whole number exactly, in proportion, the same for everyone', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 100_000 }),
      fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 50 }),
      (total, weights) => {
        const parts = apportion(total, weights);
        assert.equal(parts.length, weights.length);
        assert.equal(
          parts.reduce((a, b) => a + b, 0),
          total,
          'the parts add up to the total',
        );
        const sum = weights.reduce((a, b) => a + b, 0);
        parts.forEach((p, i) => {
          assert.ok(Number.isInteger(p) && p >= 0);
          // Largest remainder: every part is within one of its exact share.
          if (sum > 0) assert.ok(Math.abs(p - (total * weights[i]!) / sum) < 1 + 1e-9, `part ${i}: ${p} vs ${(total * weights[i]!) / sum}`);
        });
        assert.deepEqual(apportion(total, weights), parts, 'deterministic');
      },
    ),
  );
});

test('closed model: the canons of all turrets sum to the target at every instant', () => {
  fc.assert(
    fc.property(
      shapeArb,
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (shape, weights, frac) => {
        const t = frac * (shapeDuration(shape) + 1);
        const base = { planId: 1, model: 'closed' as const, t0: 0, shape, weights, maxCanons: 10, pacing: 0, sentAt: 0 };
        const total = weights.reduce((a, _, index) => a + canonsAt({ ...base, index }, t), 0);
        assert.equal(total, Math.round(targetAt(shape, t)));
      },
    ),
  );
});

test('open model: the shares of all turrets sum to 1', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0.001, max: 100, noNaN: true }), { minLength: 1, maxLength: 20 }), (weights) => {
      const sum = weights.reduce((a, _, index) => a + shareOf({ weights, index }), 0);
      assert.ok(Math.abs(sum - 1) < 1e-9);
    }),
  );
});

const PLAN: TurretPlan = {
  planId: 3,
  model: 'open',
  t0: 1_700_000_000_000,
  shape: { startTarget: 0, stages: [{ duration: 30, target: 500 }] },
  weights: [2, 1],
  index: 1,
  maxCanons: 100,
  pacing: 0,
  sentAt: 1_700_000_000_100,
};

test('the plan order round-trips through the wire form and the order parser', () => {
  const wire = planToWire('u-1', PLAN);
  const frame = ` ${JSON.stringify({ command: 'plan', msg: wire })}`;
  const parsed = parseOrder(frame);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  const back = parsePlanWire(parsed.order.msg);
  assert.ok(back.ok);
  assert.equal(back.uuid, 'u-1');
  assert.deepEqual(back.plan, PLAN);
});

test('a plan with garbage is refused with the key at fault, never thrown', () => {
  const good = planToWire('u-1', PLAN) as unknown as Record<string, unknown>;
  const cases: Array<[Record<string, unknown> | unknown, RegExp]> = [
    [null, /msg must be an object/],
    [{ ...good, v: 2 }, /unsupported version/],
    [{ ...good, uuid: '' }, /"uuid"/],
    [{ ...good, plan_id: -1 }, /"plan_id"/],
    [{ ...good, model: 'chaos' }, /"model"/],
    [{ ...good, t0: 'soon' }, /"t0"/],
    [{ ...good, stages: [] }, /"stages"/],
    [{ ...good, stages: Array.from({ length: 1001 }, () => ({ duration: 1, target: 1 })) }, /"stages"/],
    [{ ...good, stages: [{ duration: -1, target: 1 }] }, /stages\[0\]/],
    [{ ...good, stages: [{ duration: 1, target: Number.NaN }] }, /stages\[0\]/],
    [{ ...good, weights: [] }, /"weights"/],
    [{ ...good, weights: [1, -1] }, /"weights"/],
    [{ ...good, index: 2 }, /"index"/],
    [{ ...good, max_canons: 0 }, /"max_canons"/],
    [{ ...good, pacing: Infinity }, /"pacing"/],
    [{ ...good, sent_at: null }, /"sent_at"/],
  ];
  for (const [msg, reason] of cases) {
    const r = parsePlanWire(msg);
    assert.equal(r.ok, false, JSON.stringify(msg)?.slice(0, 80));
    if (!r.ok) assert.match(r.reason, reason);
    const order = parseOrder(` ${JSON.stringify({ command: 'plan', msg })}`);
    assert.equal(order.ok, false);
  }
  fc.assert(
    fc.property(fc.anything(), (msg) => {
      const r = parsePlanWire(msg);
      assert.equal(typeof r.ok, 'boolean');
    }),
  );
});
