// CURVE as a user meets it, with the real binary: `oct keys`, a project with keys_dir, `oct
// pack-turrets` carrying the turret's half of the keys, `oct run --hq-only` and a packed turret
// started with `--tar` on another "machine"; a turret without keys gets nothing in. And every way
// of getting the keys wrong is exit 2, naming the key or the file.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { t as list } from 'tar';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { freePort, oct, startOct } from '../support/processes.ts';

const SCRIPT = `export class Transaction {
  customTimers: Record<string, number> = {};
  async run() { await new Promise((r) => setTimeout(r, 5)); }
}
`;

async function project(config: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'oct-curve-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'v_user.ts'), SCRIPT);
  const ports = { publish: await freePort(), rc: await freePort(), http: await freePort() };
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      run_time: 4,
      progress_bar: false,
      publish_port: ports.publish,
      rc_port: ports.rc,
      http_port: ports.http,
      hq_address: '127.0.0.1',
      min_turrets: 1,
      turrets_wait_timeout: 60,
      turrets: [{ name: 'nav', canons: 2, rampup: 0, script: 'v_user.ts' }],
      ...config,
    }),
  );
  return { dir, ports };
}

test('oct keys, pack-turrets and a --tar turret under CURVE; a turret without keys gets nothing in', { timeout: 180_000 }, async () => {
  const p = await project({ keys_dir: 'keys' });
  const made = await oct(['keys', join(p.dir, 'keys')]);
  assert.equal(made.code, 0, made.stderr);
  for (const f of ['hq.key', 'hq.pub', 'turret.key', 'turret.pub']) assert.ok(existsSync(join(p.dir, 'keys', f)), f);
  assert.equal(statSync(join(p.dir, 'keys', 'hq.key')).mode & 0o077, 0, 'secret keys are not readable by others');
  const again = await oct(['keys', join(p.dir, 'keys')]);
  assert.equal(again.code, 2, 'existing keys are not replaced without --force');
  assert.match(again.stderr, /already holds hq\.key, turret\.key; --force/);

  const out = join(p.dir, 'packed');
  const packed = await oct(['pack-turrets', p.dir, '--out', out]);
  assert.equal(packed.code, 0, packed.stderr);
  const entries: string[] = [];
  await list({ file: join(out, 'nav.tar'), onReadEntry: (e) => entries.push(e.path) });
  assert.deepEqual(entries.filter((e) => e.startsWith('keys/')).sort(), ['keys/hq.pub', 'keys/turret.key', 'keys/turret.pub'], 'never the HQ secret');

  const results = join(p.dir, 'results');
  const hq = startOct(['run', p.dir, '--hq-only', '--no-progress', '--results-dir', results]);
  // The packed turret (unpacked to a temp dir: its keys come from the tar), and one without keys.
  const turret = startOct(['turret', '--tar', join(out, 'nav.tar'), '--no-install', '--uuid', 'packed']);
  const plainConfig = join(p.dir, 'plain.json');
  writeFileSync(
    plainConfig,
    JSON.stringify({ name: 'nav', canons: 2, rampup: 0, script: 'v_user.ts', hq_address: '127.0.0.1', hq_publisher: p.ports.publish, hq_rc: p.ports.rc }),
  );
  const plain = startOct(['turret', '--config', plainConfig, '--uuid', 'plain']);
  const hqDone = await hq.done;
  assert.equal(hqDone.code, 0, hqDone.out);
  assert.match(hqDone.out, /security: CURVE on \(.*keys; 1 turret key\(s\) trusted\)/);
  turret.child.kill('SIGTERM');
  plain.child.kill('SIGTERM');
  await turret.done;
  const plainDone = await plain.done;
  assert.match(plainDone.out, /no keys_dir: connecting without CURVE/);

  const store = await openStore({ embeddedDir: join(results, 'db'), log: createLogger() });
  try {
    const rows = await store.sql.query<{ turret_uuid: string; n: number }>('SELECT turret_uuid, count(*)::int AS n FROM results GROUP BY 1');
    assert.deepEqual(
      rows.map((r) => r.turret_uuid),
      ['packed'],
      'only the turret with the keys is in the run',
    );
    assert.ok(rows[0]!.n > 50, `the packed turret fired: ${rows[0]!.n}`);
    const turrets = await store.sql.query<{ uuid: string }>('SELECT DISTINCT uuid FROM turret_status_changes');
    assert.deepEqual(
      turrets.map((t) => t.uuid),
      ['packed'],
    );
  } finally {
    await store.close();
  }
  const summary = JSON.parse(readFileSync(join(results, 'summary.json'), 'utf8')) as { totals: { transactions: number } };
  assert.ok(summary.totals.transactions > 50);
});

test('keys wrong in every way: exit 2, naming the key or the file', { timeout: 120_000 }, async () => {
  // An HQ on every interface without keys, or with the opt-out and keys at once.
  const none = await project({});
  const r1 = await oct(['run', none.dir, '--hq-only', '--no-progress']);
  assert.equal(r1.code, 2, r1.stdout + r1.stderr);
  assert.match(r1.stderr, /keys_dir: required when the HQ listens on every interface.*"allow_plaintext": true/s);
  const both = await project({ keys_dir: 'keys', allow_plaintext: true });
  const r2 = await oct(['run', both.dir, '--no-progress']);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /allow_plaintext: keys_dir turns CURVE on and allow_plaintext turns it off/);

  // A keys directory that is not there, a malformed secret, a public key of another pair.
  const missing = await project({ keys_dir: 'nowhere' });
  const r3 = await oct(['run', missing.dir, '--hq-only', '--no-progress']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /nowhere.*keys_dir: keys directory not found/s);
  const broken = await project({ keys_dir: 'keys' });
  assert.equal((await oct(['keys', join(broken.dir, 'keys')])).code, 0);
  writeFileSync(join(broken.dir, 'keys', 'hq.key'), 'not a key\n');
  const r4 = await oct(['run', broken.dir, '--hq-only', '--no-progress']);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /keys\/hq\.key:\n\s+- not a CURVE key: expected 40 Z85 characters/);
  const mismatched = await project({ keys_dir: 'keys' });
  assert.equal((await oct(['keys', join(mismatched.dir, 'keys')])).code, 0);
  mkdirSync(join(mismatched.dir, 'other'));
  assert.equal((await oct(['keys', join(mismatched.dir, 'other')])).code, 0);
  writeFileSync(join(mismatched.dir, 'keys', 'hq.pub'), readFileSync(join(mismatched.dir, 'other', 'hq.pub')));
  const r5 = await oct(['run', mismatched.dir, '--hq-only', '--no-progress']);
  assert.equal(r5.code, 2);
  assert.match(r5.stderr, /keys\/hq\.pub:\n\s+- does not match hq\.key/);

  // A turret whose keys_dir lacks hq.pub.
  const t = await project({});
  mkdirSync(join(t.dir, 'tkeys'));
  const cfg = join(t.dir, 'turret.json');
  writeFileSync(cfg, JSON.stringify({ name: 'nav', canons: 1, script: 'v_user.ts', hq_address: '127.0.0.1', hq_publisher: 1, hq_rc: 2, keys_dir: 'tkeys' }));
  const r6 = await oct(['turret', '--config', cfg]);
  assert.equal(r6.code, 2, r6.stdout + r6.stderr);
  assert.match(r6.stderr, /tkeys\/hq\.pub:\n\s+- public key file not found/);
});
