// Bad input to `oct run` from the command line and from config.json: refused before anything
// starts, naming the flag or key, with the documented exit code; typos are refused, not swallowed.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

interface BadInput {
  name: string;
  args: string[];
  /** Changes to the scaffolded config.json for this case only. */
  config?: (c: Config) => void;
  code: ExitCode;
  /** The first line of the message on stderr. */
  first: RegExp;
  /** Further lines that must be there (the key at fault, the suggestion). */
  also?: RegExp[];
}
type Config = { [key: string]: unknown; turrets: Record<string, unknown>[] };

// Each case is what a new user or a hostile tester typed (issue 11): the real binary, the exit
// code the README documents, and the first line that tells them what is wrong.
const BAD_INPUTS: BadInput[] = [
  {
    name: '--run-time -5',
    args: ['--run-time', '-5'],
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json with --run-time -5:/,
    also: [/run_time: /],
  },
  {
    name: '--run-time abc',
    args: ['--run-time', 'abc'],
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json with --run-time abc:/,
    also: [/run_time: /],
  },
  { name: '--min-turrets -1', args: ['--min-turrets', '-1'], code: ExitCode.INVALID_INPUT, first: /with --min-turrets -1:/, also: [/min_turrets: /] },
  { name: '--http-port 70000', args: ['--http-port', '70000'], code: ExitCode.INVALID_INPUT, first: /with --http-port 70000:/, also: [/http_port: /] },
  {
    name: 'a typo at the top level (run_tme)',
    args: [],
    config: (c) => {
      c.run_tme = 9;
    },
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json:/,
    also: [/run_tme: unknown key \(did you mean "run_time"\?\)/, /may start with "x-" or "_"/],
  },
  {
    name: 'a typo in a turret (canon)',
    args: [],
    config: (c) => {
      c.turrets[0]!.canon = 4;
    },
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json:/,
    also: [/turrets\[0\]\.canon: unknown key \(did you mean "canons"\?\)/],
  },
  {
    name: 'canons: 1e12',
    args: [],
    config: (c) => {
      c.turrets[0]!.canons = 1e12;
    },
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json:/,
    also: [/turrets\[0\]\.canons: at most 100,000 canons per turret/],
  },
  {
    name: 'canons: 1000000',
    args: [],
    config: (c) => {
      c.turrets[0]!.canons = 1_000_000;
    },
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json:/,
    also: [/turrets\[0\]\.canons: at most 100,000 canons per turret/],
  },
  {
    name: 'a script that does not exist',
    args: [],
    config: (c) => {
      c.turrets[0]!.script = 'test_scripts/missing.ts';
    },
    code: ExitCode.INVALID_INPUT,
    first: /invalid configuration in .*config\.json:/,
    also: [/turrets\[0\]\.script: file not found: test_scripts\/missing\.ts/],
  },
  {
    name: 'min_turrets above the local turrets',
    args: ['--min-turrets', '5'],
    code: ExitCode.INVALID_INPUT,
    first: /min_turrets: 5, but oct run starts 2 local turrets/,
  },
];

for (const c of BAD_INPUTS) {
  test(`oct run with ${c.name}: exit ${c.code}, and the first line says what is wrong`, async () => {
    const project = c.config ? variant(c.config) : dir;
    const r = await oct(['run', project, ...c.args, '--no-progress'], { timeoutMs: 30_000 });
    assert.equal(r.code, c.code, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const firstLine = r.stderr.split('\n').find((l) => l.trim() !== '') ?? '';
    assert.match(firstLine, c.first, r.stderr);
    for (const line of c.also ?? []) assert.match(r.stderr, line, r.stderr);
    assert.doesNotMatch(r.stdout, /HQ: orders on/, 'nothing started');
  });
}

/** A copy of the scaffolded project with one change, so each case stands alone. */
function variant(change: (c: Config) => void): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'oct-input-case-')), 'demo');
  cpSync(dir, copy, { recursive: true });
  const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')) as Config;
  change(config);
  writeFileSync(join(copy, 'config.json'), JSON.stringify(config));
  return copy;
}

test('oct run with no project: exit 2, saying the project is missing and how to make one', async () => {
  const r = await oct(['run', join(tmpdir(), 'oct-no-such-project')], { timeoutMs: 30_000 });
  assert.equal(r.code, ExitCode.INVALID_INPUT, `exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /config\.json:\n\s+- file not found \(a project folder holds config\.json; create one with "oct new-project NAME"\)/);
});

test('keys meant for other tools (x-, _) are accepted and the test runs', { timeout: 60_000 }, async () => {
  const project = variant((c) => {
    c._comment = 'a note for people';
    c['x-ci'] = { pipeline: 'nightly' };
  });
  const r = await oct(['run', project, '--run-time', '1', '--no-progress'], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
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

test("oct --version is oct's own, from any working directory, and --help is laid out", async () => {
  const own = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  const elsewhere = mkdtempSync(join(tmpdir(), 'oct-version-'));
  writeFileSync(join(elsewhere, 'package.json'), '{"version": "9.9.9"}');
  const v = await oct(['--version'], { cwd: elsewhere });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout.trim(), own);
  // Help is the one output that is wrapped (yargs lays it out only then); descriptions keep their columns.
  const help = await oct(['turret', '--help'], { cwd: elsewhere });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^ {2}-v, --verbose +Log more: -v info, -vv debug +\[count\]$/m);
});
