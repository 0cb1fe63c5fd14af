// Bad input to `oct run` from the command line and from config.json: refused before anything
// starts, naming the flag or key, with the documented exit code; typos are said, not swallowed.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { ExitCode } from '../common/exit-codes.ts';
import { oct } from '../test/support/processes.ts';

let dir: string;
before(async () => {
  dir = join(mkdtempSync(join(tmpdir(), 'oct-input-')), 'demo');
  const made = await oct(['new-project', dir]);
  assert.equal(made.code, 0, made.stderr);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  Object.assign(config, { publish_port: 0, rc_port: 0, http_port: 0, progress_bar: false, thresholds: {} });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
});

for (const [flag, value] of [
  ['--run-time', '-5'],
  ['--run-time', 'abc'],
  ['--min-turrets', '-1'],
  ['--http-port', '70000'],
] as const) {
  test(`oct run ${flag} ${value}: exit 2, naming the flag and the key`, async () => {
    const r = await oct(['run', dir, flag, value], { timeoutMs: 30_000 });
    assert.equal(r.code, ExitCode.INVALID_INPUT, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const key = flag.slice(2).replace('-', '_');
    assert.match(r.stderr, new RegExp(`with ${flag} `), r.stderr);
    assert.match(r.stderr, new RegExp(`${key}: `), r.stderr);
    assert.doesNotMatch(r.stdout, /HQ: orders on/, 'nothing started');
  });
}

test('a typo in config.json is reported with the key it probably meant, and the test still runs', { timeout: 60_000 }, async () => {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  config.run_tme = 9;
  config.turrets[0].canon = 4;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const r = await oct(['run', dir, '--run-time', '1', '--no-progress'], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /warning: .*config\.json: run_tme: unknown key, ignored \(did you mean "run_time"\?\)/);
  assert.match(r.stderr, /warning: .*config\.json: turrets\[0\]\.canon: unknown key, ignored \(did you mean "canons"\?\)/);
});

test('min_turrets above the turrets oct run starts: exit 2 at once, naming min_turrets', async () => {
  const r = await oct(['run', dir, '--min-turrets', '5'], { timeoutMs: 30_000 });
  assert.equal(r.code, ExitCode.INVALID_INPUT, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /min_turrets: 5, but oct run starts 2 local turrets/);
});

test('a port already in use: exit 3 (the test could not run), naming the key', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as AddressInfo).port;
  try {
    const r = await oct(['run', dir, '--publish-port', String(port), '--run-time', '1'], { timeoutMs: 30_000 });
    assert.equal(r.code, ExitCode.TEST_NOT_RUN, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /the test could not run: could not listen on tcp:\/\/127\.0\.0\.1:\d+ \(publish_port\)/);
  } finally {
    busy.close();
  }
});

test('a Transaction constructor that throws: every turret aborts, exit 3 with the reason', { timeout: 60_000 }, async () => {
  const script = join(dir, 'test_scripts', 'v_user.ts');
  const original = readFileSync(script, 'utf8');
  writeFileSync(script, `export class Transaction {\n  customTimers = {};\n  constructor() { throw new Error('no credentials'); }\n  async run() {}\n}\n`);
  try {
    const r = await oct(['run', dir, '--run-time', '5', '--no-progress'], { timeoutMs: 50_000 });
    assert.equal(r.code, ExitCode.TEST_NOT_RUN, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /test did not run: every turret aborted: .*Transaction constructor threw: .*no credentials/);
  } finally {
    writeFileSync(script, original);
  }
});
