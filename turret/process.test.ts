// The turret as the launcher and Kubernetes run it: `node bin/oct.js turret --config FILE`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ExitCode } from '../common/exit-codes.ts';
import { orders } from '../protocol/orders.ts';
import { MIXED_SCRIPT, scriptDir, slowScript } from '../test/support/turret-scripts.ts';
import { TestHq } from '../test/support/test-hq.ts';

const OCT = process.env.OCT_TEST_TURRET_BIN ?? fileURLToPath(new URL('../bin/oct.js', import.meta.url));
const scripts = scriptDir();
let hq: TestHq;
before(async () => {
  hq = await TestHq.start();
});
after(async () => {
  await hq.close();
  scripts.remove();
});

function oct(args: string[], cwd = scripts.dir) {
  const child = spawn(process.execPath, [OCT, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  return { child, exited, output: () => out };
}

function turretWith(name: string, script: string | null, extra: Record<string, unknown> = {}, uuid = crypto.randomUUID()) {
  if (script !== null) scripts.write(`${name}.ts`, script);
  const config = scripts.writeConfig(`${name}.json`, hq.turretConfig({ name, script: `${name}.ts`, ...extra }));
  return { uuid, ...oct(['turret', '--config', config, '--uuid', uuid]) };
}

// Generous: a turret process compiles its TypeScript at start, slow on a loaded 2-core machine.
const statusOf = (uuid: string, state: string, timeoutMs = 45_000) =>
  hq.until(() => hq.statusesOf(uuid).find((s) => s.state === state), timeoutMs, `${state} status of ${uuid}`);

function kill(child: ChildProcess) {
  if (child.exitCode === null) child.kill('SIGKILL');
}

test('SIGTERM: in-flight iterations finish, every batch arrives, the final status carries the last seq, exit 0', async () => {
  const t = turretWith('sigterm', MIXED_SCRIPT, { canons: 5, batch_max_ms: 30 });
  try {
    await statusOf(t.uuid, 'ready');
    await hq.send(orders.start());
    await hq.until(() => hq.batches.filter((b) => b.turretUuid === t.uuid).length >= 5, 8000, 'batches');
    t.child.kill('SIGTERM');
    assert.equal(await t.exited, ExitCode.OK, t.output());
    const final = await statusOf(t.uuid, 'killed');
    const mine = hq.batches.filter((b) => b.turretUuid === t.uuid);
    assert.ok(final.lastSeq! >= 5);
    assert.deepEqual(
      hq.seqsOf(t.uuid),
      Array.from({ length: final.lastSeq! }, (_, i) => i + 1),
      'every message 1..lastSeq, batches and aggregates, none missing',
    );
    assert.equal(final.reason, 'received SIGTERM');
    const received = mine.reduce((n, b) => n + b.count, 0);
    assert.ok(received > 0);
    assert.equal(final.canonsRunning, 0);
  } finally {
    kill(t.child);
  }
});

test('SIGTERM during a slow iteration waits for it', async () => {
  const t = turretWith('sigterm-slow', slowScript(600), { canons: 2 });
  try {
    await statusOf(t.uuid, 'ready');
    await hq.send(orders.start());
    await statusOf(t.uuid, 'running');
    await new Promise((r) => setTimeout(r, 200));
    t.child.kill('SIGTERM');
    assert.equal(await t.exited, ExitCode.OK, t.output());
    await statusOf(t.uuid, 'killed');
    const rows = hq.batches.filter((b) => b.turretUuid === t.uuid).reduce((n, b) => n + b.count, 0);
    assert.equal(rows, 2, 'both in-flight iterations reported');
  } finally {
    kill(t.child);
  }
});

test('a CommonJS-mode script outside the repo can import oct too', async () => {
  const cjs = scriptDir({ esm: false });
  try {
    cjs.write(
      'v.ts',
      `import { BaseTransaction } from 'oct';\nimport { HttpError } from 'oct/http';\nexport class Transaction extends BaseTransaction { async run() { this.customTimers.ok = HttpError ? 1 : 0; } }\n`,
    );
    const uuid = crypto.randomUUID();
    const config = cjs.writeConfig('t.json', hq.turretConfig({ name: 'cjs', script: 'v.ts' }));
    const t = oct(['turret', '--config', config, '--uuid', uuid], cjs.dir);
    try {
      await statusOf(uuid, 'ready');
      await hq.send(orders.start());
      await hq.until(() => hq.batches.find((b) => b.turretUuid === uuid), 5000, 'results');
      await hq.send(orders.kill(), uuid);
      assert.equal(await t.exited, 0, t.output());
      const b = hq.batches.find((x) => x.turretUuid === uuid)!;
      assert.deepEqual(b.timerNames, ['ok']);
      assert.equal(b.timers[0]![0], 1);
    } finally {
      kill(t.child);
    }
  } finally {
    cjs.remove();
  }
});

test('broken scripts: aborted status naming the file, exit 3', async () => {
  const cases: [string, string | null, RegExp][] = [
    ['gone', null, /gone\.ts: script file not found/],
    ['broken', 'export class Transaction { run( {', /broken\.ts: failed to load/],
    ['classless', 'export function run() {}', /classless\.ts: no Transaction class/],
  ];
  await Promise.all(
    cases.map(async ([name, source, why]) => {
      const t = turretWith(name, source);
      try {
        assert.equal(await t.exited, ExitCode.TEST_NOT_RUN, t.output());
        const s = await statusOf(t.uuid, 'aborted');
        assert.match(s.reason!, why);
        assert.match(t.output(), why, 'the reason is logged too');
      } finally {
        kill(t.child);
      }
    }),
  );
});

test('an invalid config exits 2 naming the key; --help shows an example', async () => {
  const bad = scripts.writeConfig('bad.json', { name: 'x', canons: 'many', script: 'x.ts', hq_address: '127.0.0.1', hq_publisher: 1, hq_rc: 2 });
  // Three processes at once: start-up (compiling TypeScript) dominates these tests.
  const [t, none, help] = [oct(['turret', '--config', bad]), oct(['turret']), oct(['turret', '--help'])];
  assert.equal(await t.exited, ExitCode.INVALID_INPUT);
  assert.match(t.output(), /canons/);
  assert.equal(await none.exited, ExitCode.INVALID_INPUT);
  assert.match(none.output(), /--config FILE/);
  assert.equal(await help.exited, 0);
  assert.match(help.output(), /oct turret --tar navigation\.tar/);
  assert.match(help.output(), /SIGTERM/);
});
