import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateKeys, writeKeysDir } from '../common/keys-dir.ts';
import { ConfigError, parseProjectConfig } from '../protocol/config.ts';
import { credentialStamp } from '../turret/sockets.ts';
import { chooseSecurity } from './security.ts';

const where = (bindHost: string, baseDir = '/nowhere') => ({ baseDir, configPath: '/p/config.json', bindHost });

test("CURVE unless opted out: keys_dir, the opt-out, a local run's own keys, and a refusal on every interface", () => {
  const dir = mkdtempSync(join(tmpdir(), 'oct-sec-'));
  const keys = generateKeys();
  writeKeysDir(join(dir, 'keys'), keys);
  const fromDir = chooseSecurity(parseProjectConfig({ keys_dir: 'keys' }), where('0.0.0.0', dir));
  assert.equal(fromDir.kind, 'curve');
  assert.equal(fromDir.kind === 'curve' && fromDir.keys.hq.publicKey, keys.hq.publicKey);
  assert.deepEqual(fromDir.kind === 'curve' && fromDir.keys.trusted, [keys.turret.publicKey]);

  assert.deepEqual(chooseSecurity(parseProjectConfig({ allow_plaintext: true }), where('0.0.0.0')), { kind: 'plaintext' });
  const local = chooseSecurity(parseProjectConfig({}), where('127.0.0.1'));
  assert.ok(local.kind === 'curve' && local.ephemeral, 'a loopback run makes its own keys');
  assert.throws(
    () => chooseSecurity(parseProjectConfig({}), where('0.0.0.0')),
    (err: unknown) => err instanceof ConfigError && /keys_dir: required when the HQ listens on every interface/.test(err.message),
  );
});

test('credentials go first in the JSON object, whatever it holds', () => {
  const k = generateKeys();
  const stamp = credentialStamp({ hqPublicKey: k.hq.publicKey, turret: k.turret }, 'u1');
  const a = JSON.parse(stamp('{"oct":1,"uuid":"u1"}'));
  assert.equal(a.turret_key, k.turret.publicKey);
  assert.equal(a.uuid, 'u1');
  assert.match(a.proof, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(Object.keys(JSON.parse(stamp('{}'))), ['turret_key', 'proof']);
  assert.equal(stamp('not json'), 'not json');
});
