import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseJsonText, parseProjectConfig, parseTurretConfig } from './config.ts';

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
  assert.match(issuesOf(() => parseProjectConfig({ turrets: [{ name: 'a', canons: 1, script: 's' }, { name: 'a', canons: 1, script: 's' }] })).join(), /turrets\[1\]\.name: duplicate/);
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
