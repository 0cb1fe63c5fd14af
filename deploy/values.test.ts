import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProjectConfig } from '../protocol/config.ts';
import { buildProjectValues, chartFiles, configMapKey, DeployError, MAX_FILES_BYTES, mergeValues, neededFiles, normalizeProjectPath } from './values.ts';

const text = (s: string) => new TextEncoder().encode(s);
const project = (over: Record<string, unknown> = {}) =>
  parseProjectConfig({
    run_time: 20,
    turrets: [
      { name: 'navigation', canons: 2, rampup: 1, script: 'test_scripts/v_user.ts', replicas: 3 },
      { name: 'random_walk', canons: 4, script: './test_scripts/v_user.ts', extra_files: ['data/users.csv'] },
    ],
    ...over,
  });
const files = new Map([
  ['test_scripts/v_user.ts', text('export class Transaction {}')],
  ['data/users.csv', text('id\n1\n')],
]);

describe('buildProjectValues', () => {
  it('carries the data file to the HQ and the TLS files to every turret, at the paths the chart mounts', () => {
    const config = project({ data: { file: 'data/users.csv' }, http: { tls: { ca_file: 'certs/ca.pem' } } });
    assert.deepEqual(neededFiles(config), ['test_scripts/v_user.ts', 'data/users.csv', 'certs/ca.pem']);
    const { values } = buildProjectValues(config, new Map([...files, ['certs/ca.pem', text('-----BEGIN CERTIFICATE-----\n')]]));
    const cfg = values.config as { data: { file: string; policy: string }; extra_turret_config: { http: { tls: { ca_file: string } } } };
    assert.deepEqual(cfg.data, { file: '/app/project/files/data/users.csv', policy: 'unique' });
    assert.equal(cfg.extra_turret_config.http.tls.ca_file, '/app/project/files/certs/ca.pem');
    assert.deepEqual(
      values.turrets.map((t) => t.extraFiles),
      [['certs/ca.pem'], ['data/users.csv', 'certs/ca.pem']],
    );
    assert.ok(values.files.some((f) => f.path === 'data/users.csv'));
  });

  it('maps turrets, files and ports', () => {
    const { values, warnings } = buildProjectValues(project(), files);
    assert.deepEqual(values.turrets, [
      { name: 'navigation', replicas: 3, canons: 2, rampup: 1, script: 'test_scripts/v_user.ts', extraFiles: [] },
      { name: 'random_walk', replicas: 1, canons: 4, rampup: 0, script: 'test_scripts/v_user.ts', extraFiles: ['data/users.csv'] },
    ]);
    assert.deepEqual(
      values.files.map((f) => f.path),
      ['data/users.csv', 'test_scripts/v_user.ts'],
    );
    assert.deepEqual(values.hq, { ports: { publish: 5000, rc: 5001, http: 8080 } });
    assert.equal(values.config.run_time, 20);
    for (const k of ['turrets', 'turrets_requirements', 'publish_port', 'rc_port', 'http_port', 'hq_address']) assert.ok(!(k in values.config), k);
    assert.deepEqual(warnings, []);
  });

  const cases: { name: string; over: Record<string, unknown>; deps?: Record<string, string>; check: (r: ReturnType<typeof buildProjectValues>) => void }[] = [
    {
      name: 'drops db_uri with a warning',
      over: { results_database: { db_uri: 'postgres://localhost/x', insert_limit: 5 } },
      check: (r) => {
        assert.deepEqual(r.values.config.results_database, { params: {}, insert_limit: 5 });
        assert.match(r.warnings.join('\n'), /db_uri is ignored/);
      },
    },
    {
      name: 'warns when min_turrets exceeds the pods',
      over: { min_turrets: 9 },
      check: (r) => assert.match(r.warnings.join('\n'), /min_turrets is 9 but the turrets add up to 4 pods/),
    },
    {
      name: 'custom ports go to hq.ports',
      over: { publish_port: 6000, rc_port: 6001, http_port: 9090 },
      check: (r) => assert.deepEqual(r.values.hq.ports, { publish: 6000, rc: 6001, http: 9090 }),
    },
    {
      name: 'requirements merge config and package.json, config wins',
      over: { turrets_requirements: ['undici@7'] },
      deps: { undici: '^7.1.0', 'left-pad': '^1.3.0', anything: '*' },
      check: (r) => assert.deepEqual(r.values.turretsRequirements, ['undici@7', 'left-pad@^1.3.0', 'anything']),
    },
  ];
  for (const c of cases) it(c.name, () => c.check(buildProjectValues(project(c.over), files, c.deps)));

  it('rejects a project without turrets', () => {
    assert.throws(() => buildProjectValues(project({ turrets: [] }), files), /no turrets/);
  });
  it('rejects missing file contents', () => {
    assert.throws(() => buildProjectValues(project(), new Map()), /missing file contents for "test_scripts\/v_user.ts"/);
  });
});

describe('paths and files', () => {
  const paths: [string, string | RegExp][] = [
    ['a.ts', 'a.ts'],
    ['./x/../b/c.ts', 'b/c.ts'],
    ['dir\\win.ts', 'dir/win.ts'],
    ['../outside.ts', /must be a path inside the project/],
    ['/etc/passwd', /must be a path inside the project/],
    ['.', /must be a path inside the project/],
  ];
  for (const [input, want] of paths) {
    it(`normalizeProjectPath(${JSON.stringify(input)})`, () => {
      if (typeof want === 'string') assert.equal(normalizeProjectPath(input, 'k'), want);
      else
        assert.throws(
          () => normalizeProjectPath(input, 'turrets[0].script'),
          (e: Error) => e instanceof DeployError && want.test(e.message) && e.message.startsWith('turrets[0].script'),
        );
    });
  }

  const keys: [string, string][] = [
    ['test_scripts/v_user.ts', 'test_scripts_v_user.ts'],
    ['a b/ü.csv', 'a_b__.csv'],
    ['plain-name_1.js', 'plain-name_1.js'],
  ];
  for (const [path, key] of keys) it(`configMapKey(${path})`, () => assert.equal(configMapKey(path), key));

  it('binary files become base64, text stays text', () => {
    const out = chartFiles(
      new Map([
        ['b.bin', new Uint8Array([0, 255, 1])],
        ['t.txt', text('héllo')],
      ]),
    );
    assert.deepEqual(out, [
      { path: 'b.bin', base64: 'AP8B' },
      { path: 't.txt', content: 'héllo' },
    ]);
  });
  it('clashing keys name both files', () => {
    assert.throws(
      () =>
        chartFiles(
          new Map([
            ['a/b.ts', text('')],
            ['a_b.ts', text('')],
          ]),
        ),
      /"a_b.ts" and "a\/b.ts" map to the same ConfigMap key "a_b.ts"/,
    );
  });
  it('too much data is refused before the API server would', () => {
    assert.throws(() => chartFiles(new Map([['big', new Uint8Array(MAX_FILES_BYTES + 1).fill(65)]])), /derived turret image/);
  });
  it('neededFiles dedupes scripts shared by turrets', () => {
    assert.deepEqual(neededFiles(project()), ['test_scripts/v_user.ts', 'data/users.csv']);
  });
});

describe('mergeValues', () => {
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 1, b: { c: 1, d: 2 } }, { b: { d: 3 } }, { a: 1, b: { c: 1, d: 3 } }],
    [{ a: [1, 2] }, { a: [3] }, { a: [3] }],
    [{ a: 1 }, undefined, { a: 1 }],
    [{ a: { b: 1 } }, { a: null }, { a: null }],
  ];
  cases.forEach(([a, b, want], i) => it(`case ${i}`, () => assert.deepEqual(mergeValues(a, b), want)));
});
