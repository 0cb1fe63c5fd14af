import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseJsonText, parseProjectConfig, parseTurretConfig, unknownProjectKeys } from './config.ts';

test('the documented default config parses with the documented defaults', () => {
  const c = parseProjectConfig({
    run_time: 30,
    results_ts_interval: 10,
    progress_bar: true,
    console_logging: false,
    testing: false,
    publish_port: 5000,
    rc_port: 5001,
    min_turrets: 1,
    turrets: [{ name: 'navigation', canons: 2, rampup: 0, script: 'test_scripts/v_user.py' }],
    turrets_requirements: [],
  });
  assert.equal(c.turrets[0]!.canons, 2);
  assert.equal(c.hq_address, '127.0.0.1');
  assert.equal(c.results_database.insert_limit, 10000);
  const minimal = parseProjectConfig({});
  assert.deepEqual([minimal.run_time, minimal.results_ts_interval, minimal.publish_port, minimal.rc_port, minimal.min_turrets], [30, 10, 5000, 5001, 1]);
});

test('the original spelling "cannons" is accepted', () => {
  const c = parseProjectConfig({ turrets: [{ name: 'a', cannons: 3, script: 's.ts' }] });
  assert.equal(c.turrets[0]!.canons, 3);
  assert.equal(parseTurretConfig({ name: 'a', cannons: 2, script: 's', hq_address: 'h', hq_publisher: 1, hq_rc: 2 }).canons, 2);
});

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues;
  }
  assert.fail('expected a ConfigError');
}

test('a bad config names the key and what is wrong', () => {
  assert.match(issuesOf(() => parseProjectConfig({ run_time: 'ten' }, 'demo/config.json')).join(), /run_time: .*number/);
  assert.match(issuesOf(() => parseProjectConfig({ run_time: -1 })).join(), /run_time/);
  assert.match(issuesOf(() => parseProjectConfig({ turrets: [{ name: 'a', script: 's' }] })).join(), /turrets\[0\]\.canons: required/);
  assert.match(
    issuesOf(() =>
      parseProjectConfig({
        turrets: [
          { name: 'a', canons: 1, script: 's' },
          { name: 'a', canons: 1, script: 's' },
        ],
      }),
    ).join(),
    /turrets\[1\]\.name: duplicate/,
  );
  assert.match(issuesOf(() => parseProjectConfig({ publish_port: 70000 })).join(), /publish_port/);
  assert.match(issuesOf(() => parseTurretConfig({ name: 'a', canons: 1, script: 's' })).join(), /hq_address/);
  const err = (() => {
    try {
      parseJsonText('{"run_time": 3,,}', 'demo/config.json');
    } catch (e) {
      return e as Error;
    }
  })();
  assert.match(err!.message, /demo\/config\.json.*\n.*not valid JSON/);
});

test('workload keys: stages and rate set the model and the run time; the config parses again to the same plan', () => {
  const ramp = parseProjectConfig({
    model: 'open',
    stages: [
      { duration: 30, target: 500 },
      { duration: 120, target: 500 },
      { duration: 0, target: 2000 },
      { duration: 10, target: 2000 },
      { duration: 20, target: 0 },
    ],
  });
  assert.equal(ramp.model, 'open');
  assert.equal(ramp.run_time, 180, "run_time defaults to the stages' total");
  const rate = parseProjectConfig({ rate: 200, run_time: 12 });
  assert.equal(rate.model, 'open', '"rate" implies the open model');
  assert.deepEqual(rate.stages, [{ duration: 12, target: 200 }]);
  assert.equal(rate.start_target, 200);
  assert.deepEqual(parseProjectConfig(JSON.parse(JSON.stringify(rate))), rate, 'a stored config reads back the same');
  const closed = parseProjectConfig({ stages: [{ duration: 10, target: 20 }] });
  assert.equal(closed.model, 'closed');
  assert.equal(parseProjectConfig({}).model, 'closed');
  assert.equal(parseProjectConfig({}).stages, undefined, 'no workload keys: canons + rampup as before');
});

test('bad workload input names the key', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ stages: [] }, /^stages: needs at least one/],
    [{ stages: [{ duration: -1, target: 5 }] }, /^stages\[0\]\.duration/],
    [{ stages: [{ duration: 5, target: -5 }] }, /^stages\[0\]\.target/],
    [{ stages: [{ duration: 'NaN', target: 5 }] }, /^stages\[0\]\.duration/],
    [{ stages: [{ duration: 0, target: 5 }] }, /^stages: the stages must last longer than 0 s/],
    [{ stages: [{ duration: 5, target: 5, durtion: 3 }] }, /^stages\[0\]: .*durtion/i],
    [{ rate: 0 }, /^rate/],
    [{ rate: 10, stages: [{ duration: 5, target: 5 }] }, /^rate: .*either "rate" or "stages"/],
    [{ rate: 10, model: 'closed' }, /^rate: .*open model/],
    [{ model: 'open' }, /^stages: the open model needs/],
    [{ model: 'sideways' }, /^model/],
    [{ turrets: [{ name: 'a', canons: 1, script: 's', max_canons: 0 }] }, /^turrets\[0\]\.max_canons/],
    [{ turrets: [{ name: 'a', canons: 1, script: 's', max_canons: 1e12 }] }, /^turrets\[0\]\.max_canons/],
    [{ turrets: [{ name: 'a', canons: 1, script: 's', weight: -2 }] }, /^turrets\[0\]\.weight/],
    [{ turrets: [{ name: 'a', canons: 1, script: 's', pacing: -1 }] }, /^turrets\[0\]\.pacing/],
    [{ validity: { max_dropped_ratio: 2 } }, /^validity\.max_dropped_ratio/],
    [{ validity: { max_lag: 2 } }, /^validity: .*max_lag/i],
  ];
  for (const [config, want] of cases) {
    const issues = issuesOf(() => parseProjectConfig(config));
    assert.ok(
      issues.some((i) => want.test(i)),
      `${JSON.stringify(config)}: ${issues.join(' | ')}`,
    );
  }
});

test('unknown keys are listed with the key they probably meant; known and extension keys are not', () => {
  assert.deepEqual(unknownProjectKeys({ run_time: 3, _comment: 'a note', 'x-ci': { job: 1 }, turrets: [{ name: 'a', 'x-team': 'b' }] }), []);
  assert.deepEqual(
    unknownProjectKeys({
      run_tme: 3,
      rate: 5,
      stages: [],
      turrets: [
        { name: 'a', canon: 2, canons: 1, script: 's', weight: 2 },
        { name: 'b', zzz_custom: 1 },
      ],
    }),
    ['run_tme: unknown key (did you mean "run_time"?)', 'turrets[0].canon: unknown key (did you mean "canons"?)', 'turrets[1].zzz_custom: unknown key'],
  );
  assert.deepEqual(unknownProjectKeys({ run_time: 30, cannons: 2, turrets: [{ name: 'a', cannons: 2, script: 's' }] }), ['cannons: unknown key']);
  assert.deepEqual(unknownProjectKeys('not an object'), []);
});

test('canons beyond the per-turret limit are refused, naming the key and the limit', () => {
  assert.throws(
    () => parseProjectConfig({ turrets: [{ name: 'big', canons: 1e12, rampup: 0, script: 'v.ts' }] }),
    (err: Error) => /turrets\[0\]\.canons/.test(err.message) && /at most 100,000 canons per turret/.test(err.message),
  );
  assert.throws(
    () => parseTurretConfig({ name: 'big', canons: 1_000_001, script: 'v.ts', hq_address: 'h', hq_publisher: 1, hq_rc: 2 }),
    /canons.*at most 100,000/s,
  );
  assert.equal(parseProjectConfig({ turrets: [{ name: 'ok', canons: 100_000, rampup: 0, script: 'v.ts' }] }).turrets[0]!.canons, 100_000);
});

test('closed-model stages whose share of a turret passes the limit are refused, naming the stage list', () => {
  const two = [
    { name: 'a', canons: 1, script: 's.ts' },
    { name: 'b', canons: 1, script: 's.ts' },
  ];
  // 150,000 over two turrets of equal weight: 75,000 each.
  assert.equal(parseProjectConfig({ stages: [{ duration: 10, target: 150_000 }], turrets: two }).stages!.length, 1);
  assert.throws(
    () => parseProjectConfig({ stages: [{ duration: 10, target: 250_000 }], turrets: two }),
    (err: Error) => /stages: the stages reach 250,000 canons: turret "a" would run 125,000, more than 100,000/.test(err.message),
  );
  // Weights decide the share: b takes 3 of 4 parts of 150,000.
  assert.throws(
    () => parseProjectConfig({ stages: [{ duration: 10, target: 150_000 }], turrets: [two[0], { ...two[1], weight: 3 }] }),
    /turret "b" would run 112,500/,
  );
  assert.throws(
    () => parseProjectConfig({ turrets: [{ name: 'a', canons: 1, script: 's.ts', replicas: 2, stages: [{ duration: 10, target: 200_001 }] }] }),
    (err: Error) => /turrets\[0\]\.stages: turret "a": its stages reach 100,001 canons per replica/.test(err.message),
  );
  assert.equal(
    parseProjectConfig({ turrets: [{ name: 'a', canons: 1, script: 's.ts', replicas: 2, stages: [{ duration: 10, target: 200_000 }] }] }).turrets[0]!.replicas,
    2,
  );
  // Open-model targets are iterations per second, not canons.
  assert.equal(parseProjectConfig({ model: 'open', rate: 1e6, turrets: two }).model, 'open');
});
