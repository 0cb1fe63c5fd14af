import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseProjectConfig } from '../protocol/config.ts';
import { canonsAt, cumulativeAt, type TurretPlan, shareOf } from '../protocol/load-plan.ts';
import { LoadPlanner, loadSpecOf, planLoad } from './load-planner.ts';

const entry = (name: string, extra: Record<string, unknown> = {}) => ({ name, canons: 10, rampup: 0, script: 'v.ts', ...extra });

test('no stages and no rate: nothing is planned, the turrets run canons + rampup as before', () => {
  assert.equal(loadSpecOf(parseProjectConfig({ turrets: [entry('a')] })), null);
});

test('open model: the project rate is split by weight, and the shares add up to the whole rate', () => {
  const spec = loadSpecOf(parseProjectConfig({ rate: 900, run_time: 60, turrets: [entry('a', { weight: 2 }), entry('b')] }))!;
  const plans = planLoad(
    spec,
    [
      { uuid: 'u1', name: 'a', canons: 10 },
      { uuid: 'u2', name: 'b', canons: 10 },
      { uuid: 'u3', name: 'remote', canons: 5 },
    ],
    0,
    1,
  );
  assert.equal(plans.size, 3);
  const share = (u: string) => shareOf(plans.get(u)!);
  assert.ok(Math.abs(share('u1') - 2 / 17) < 1e-12, 'weight 2 of 2 + 10 + 5');
  assert.ok(Math.abs(share('u2') - 10 / 17) < 1e-12, 'weight = canons');
  assert.ok(Math.abs(share('u3') - 5 / 17) < 1e-12, 'unknown turret: the canons it announced');
  const rate = [...plans.values()].reduce((a, p) => a + shareOf(p) * (cumulativeAt(p.shape, 11) - cumulativeAt(p.shape, 10)), 0);
  assert.ok(Math.abs(rate - 900) < 1e-9);
  assert.equal(plans.get('u3')!.maxCanons, 100, 'the open-model pool is at least 100');
});

test('an entry with its own stages is a pool of its own, shared only by its replicas', () => {
  const spec = loadSpecOf(
    parseProjectConfig({
      model: 'closed',
      stages: [{ duration: 10, target: 30 }],
      turrets: [entry('web'), entry('batch', { stages: [{ duration: 10, target: 4 }], start_target: 4 })],
    }),
  )!;
  const plans = planLoad(
    spec,
    [
      { uuid: 'w1', name: 'web', canons: 10 },
      { uuid: 'b1', name: 'batch', canons: 10 },
      { uuid: 'b2', name: 'batch', canons: 10 },
    ],
    0,
    1,
  );
  assert.equal(canonsAt(plans.get('w1')!, 10), 30);
  assert.equal(canonsAt(plans.get('b1')!, 5) + canonsAt(plans.get('b2')!, 5), 4);
});

test('for any set of turrets, the planned canons add up to the target at any time', () => {
  const spec = loadSpecOf(
    parseProjectConfig({
      stages: [
        { duration: 30, target: 97 },
        { duration: 30, target: 13 },
      ],
      turrets: [],
    }),
  )!;
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.record({ uuid: fc.uuid(), canons: fc.option(fc.integer({ min: 1, max: 1000 })) }), {
        minLength: 1,
        maxLength: 30,
        selector: (t) => t.uuid,
      }),
      fc.double({ min: 0, max: 70, noNaN: true }),
      (turrets, t) => {
        const plans = planLoad(
          spec,
          turrets.map((x) => ({ ...x, name: 'x' })),
          0,
          1,
        );
        const sum = [...plans.values()].reduce((a, p) => a + canonsAt(p, t), 0);
        assert.equal(sum, canonsAt({ ...([...plans.values()][0] as TurretPlan), weights: [1], index: 0 }, t));
      },
    ),
  );
});

test('the planner re-plans only when the turrets change, with growing plan ids, and sends every plan', async () => {
  const spec = loadSpecOf(parseProjectConfig({ rate: 100, turrets: [] }))!;
  const sent: Array<Map<string, TurretPlan>> = [];
  let now = 1_000_000;
  const planner = new LoadPlanner(spec, { sendPlans: async (p) => void sent.push(p) }, () => now);
  assert.equal(await planner.update([{ uuid: 'a', name: 'x', canons: 1 }]), false, 'nothing before the run starts');
  planner.begin(now);
  now += 5;
  assert.equal(await planner.update([{ uuid: 'a', name: 'x', canons: 1 }]), true);
  assert.equal(await planner.update([{ uuid: 'a', name: 'x', canons: 1 }]), false, 'same turrets: no new plan');
  now += 2000;
  assert.equal(
    await planner.update([
      { uuid: 'b', name: 'x', canons: 1 },
      { uuid: 'a', name: 'x', canons: 1 },
    ]),
    true,
  );
  assert.equal(sent.length, 2);
  const [first, second] = sent as [Map<string, TurretPlan>, Map<string, TurretPlan>];
  assert.ok(second.get('a')!.planId > first.get('a')!.planId);
  assert.equal(second.get('a')!.t0, first.get('a')!.t0, "a re-plan keeps the run's time 0");
  assert.equal(shareOf(second.get('a')!) + shareOf(second.get('b')!), 1);
  await planner.resend(['b', 'nobody']);
  assert.equal(sent.length, 3, 'a missed plan goes out again');
  assert.deepEqual([...sent[2]!.keys()], ['b'], 'only to the turret that missed it');
  assert.equal(sent[2]!.get('b')!.planId, second.get('b')!.planId, 'the same plan, not a new one');
  // A restarted HQ (seconds later) planning the same run starts its ids above the old HQ's.
  now += 1500;
  const restarted = new LoadPlanner(spec, { sendPlans: async () => {} }, () => now);
  restarted.begin(1_000_000);
  await restarted.update([{ uuid: 'a', name: 'x', canons: 1 }]);
  assert.ok(restarted.lastPlanId > planner.lastPlanId);
});
