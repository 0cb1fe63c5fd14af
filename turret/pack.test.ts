import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { x as extract, t as list } from 'tar';
import { orders } from '../protocol/orders.ts';
import { parseRequirement } from './pack.ts';
import { scriptDir } from '../test/support/turret-scripts.ts';
import { TestHq } from '../test/support/test-hq.ts';

const OCT = process.env.OCT_TEST_TURRET_BIN ?? fileURLToPath(new URL('../bin/oct.js', import.meta.url));
const project = scriptDir();
let hq: TestHq;
before(async () => {
  hq = await TestHq.start();
});
after(async () => {
  await hq.close();
  project.remove();
});

function oct(args: string[], cwd: string) {
  const child = spawn(process.execPath, [OCT, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, exited, output: () => out };
}

const SCRIPT = `
import { readFileSync } from 'node:fs';
import { BaseTransaction } from 'oct';
const users = readFileSync(new URL('../data/users.csv', import.meta.url), 'utf8').trim().split('\\n');
export class Transaction extends BaseTransaction {
  async run() { this.customTimers.users = users.length; }
}
`;

test('requirements become package.json dependencies', () => {
  assert.deepEqual(parseRequirement('left-pad'), ['left-pad', '*']);
  assert.deepEqual(parseRequirement('left-pad@1.3.0'), ['left-pad', '1.3.0']);
  assert.deepEqual(parseRequirement('@scope/pkg@^2'), ['@scope/pkg', '^2']);
  assert.deepEqual(parseRequirement('@scope/pkg'), ['@scope/pkg', '*']);
});

test('pack-turrets writes one tar per turret that `oct turret --tar` runs', async () => {
  project.write('test_scripts/v_user.ts', SCRIPT);
  project.write('data/users.csv', 'ann\nbob\ncid\n');
  project.writeConfig('config.json', {
    run_time: 5,
    turrets: [
      { name: 'navigation', canons: 2, rampup: 0, script: 'test_scripts/v_user.ts', extra_files: ['data/users.csv'] },
      { name: 'random', cannons: 1, rampup: 0, script: 'test_scripts/v_user.ts' },
    ],
    turrets_requirements: ['left-pad@1.3.0'],
    extra_turret_config: { heartbeat_ms: 300, batch_max_ms: 50 },
  });
  const out = mkdtempSync(join(tmpdir(), 'oct-packed-'));
  try {
    const pack = oct(['pack-turrets', project.dir, '--out', out], out);
    assert.equal(await pack.exited, 0, pack.output());
    const text = pack.output();
    assert.match(text, /WARNING: hq_address configuration key not present/);
    assert.match(text, /WARNING: publish_port configuration key not present/);
    assert.match(text, /Added config\.json\nAdded package\.json\nAdded test_scripts\/v_user\.ts\nAdded data\/users\.csv\nArchive \.\/navigation\.tar created/);
    assert.match(text, /Archive \.\/random\.tar created/);

    const entries: string[] = [];
    await list({ file: join(out, 'navigation.tar'), onReadEntry: (e) => entries.push(e.path) });
    assert.deepEqual(entries.sort(), ['config.json', 'data/users.csv', 'package.json', 'test_scripts/v_user.ts']);
    const peek = join(out, 'peek');
    (await import('node:fs')).mkdirSync(peek);
    await extract({ file: join(out, 'navigation.tar'), cwd: peek });
    const cfg = JSON.parse(readFileSync(join(peek, 'config.json'), 'utf8'));
    assert.deepEqual(cfg, {
      heartbeat_ms: 300,
      batch_max_ms: 50,
      name: 'navigation',
      canons: 2,
      rampup: 0,
      script: 'test_scripts/v_user.ts',
      hq_address: '127.0.0.1',
      hq_publisher: 5000,
      hq_rc: 5001,
    });
    const pkg = JSON.parse(readFileSync(join(peek, 'package.json'), 'utf8'));
    assert.deepEqual(pkg.dependencies, { 'left-pad': '1.3.0' });
    assert.equal(pkg.type, 'module');

    const uuid = crypto.randomUUID();
    const turret = oct(
      [
        'turret',
        '--tar',
        join(out, 'navigation.tar'),
        '--no-install',
        '--uuid',
        uuid,
        '--hq-address',
        '127.0.0.1',
        '--hq-publisher',
        String(hq.publishPort),
        '--hq-rc',
        String(hq.rcPort),
      ],
      out,
    );
    try {
      await hq.until(() => hq.statusesOf(uuid).find((s) => s.state === 'ready'), 45_000, 'ready from the packed turret');
      await hq.send(orders.start());
      const batch = await hq.until(() => hq.batches.find((b) => b.turretUuid === uuid), 5000, 'results');
      assert.equal(batch.turretName, 'navigation');
      assert.equal(batch.timers[batch.timerNames.indexOf('users')]![0], 3, 'the extra file travelled with the script');
      await hq.send(orders.kill(), uuid);
      assert.equal(await turret.exited, 0, turret.output());
    } finally {
      if (turret.child.exitCode === null) turret.child.kill('SIGKILL');
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a missing script is an error naming the key and the file; nothing is written', async () => {
  const bad = scriptDir();
  const out = mkdtempSync(join(tmpdir(), 'oct-packed-'));
  try {
    bad.write('test_scripts/a.ts', SCRIPT);
    bad.writeConfig('config.json', {
      hq_address: '10.0.0.1',
      publish_port: 5000,
      rc_port: 5001,
      turrets: [
        { name: 'a', canons: 1, script: 'test_scripts/a.ts' },
        { name: 'b', canons: 1, script: 'test_scripts/nope.ts' },
      ],
    });
    const pack = oct(['pack-turrets', bad.dir, '--out', out], out);
    assert.equal(await pack.exited, 2, pack.output());
    assert.match(pack.output(), /turrets\[1\]\.script: file not found: .*nope\.ts/);
    assert.doesNotMatch(pack.output(), /WARNING/);
    assert.deepEqual((await import('node:fs')).readdirSync(out), []);
  } finally {
    bad.remove();
    rmSync(out, { recursive: true, force: true });
  }
});
