import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { curveKeyPair } from 'zeromq';
import { parseCurveKey, publicKeyOf, uuidProof, z85Decode, z85Encode } from './curve-key.ts';

test('Z85 keys read as libzmq writes them; the public half follows from the secret', () => {
  for (let i = 0; i < 20; i++) {
    const kp = curveKeyPair();
    const secret = parseCurveKey(`${kp.secretKey}\n`, 'secret') as Buffer;
    assert.equal(z85Encode(secret), kp.secretKey);
    assert.equal(z85Encode(publicKeyOf(secret)), kp.publicKey);
  }
  assert.equal(z85Decode('HelloWorld')!.toString('hex'), '864fd26fb559f75b', 'the RFC 32 test vector');
});

test('an Ed25519 PEM pair becomes the X25519 pair libsodium would convert it to', () => {
  for (let i = 0; i < 10; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const secret = parseCurveKey(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'secret') as Buffer;
    const pub = parseCurveKey(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'public') as Buffer;
    assert.ok(publicKeyOf(secret).equals(pub));
  }
  const x = generateKeyPairSync('x25519');
  const xs = parseCurveKey(x.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'secret') as Buffer;
  assert.ok(publicKeyOf(xs).equals(parseCurveKey(x.publicKey.export({ type: 'spki', format: 'pem' }) as string, 'public') as Buffer));
});

test('what is not a key says why', () => {
  assert.match(parseCurveKey('short', 'secret') as string, /expected 40 Z85 characters.*got 5/);
  assert.match(parseCurveKey('~'.repeat(40), 'secret') as string, /outside the Z85 alphabet/);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  assert.match(parseCurveKey(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'public') as string, /PRIVATE KEY where a public key belongs/);
  assert.match(parseCurveKey(publicKey.export({ type: 'spki', format: 'pem' }) as string, 'secret') as string, /without a PRIVATE KEY block/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.match(parseCurveKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string, 'public') as string, /a rsa key, not Ed25519 or X25519/);
  assert.match(parseCurveKey('-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----', 'public') as string, /unreadable PEM/);
});

test('the uuid proof is the same from both ends, and differs per uuid and per key', () => {
  const hq = curveKeyPair();
  const a = curveKeyPair();
  const b = curveKeyPair();
  const d = (k: string) => z85Decode(k)!;
  const fromTurret = uuidProof(d(a.secretKey), d(hq.publicKey), 'u1');
  assert.equal(fromTurret, uuidProof(d(hq.secretKey), d(a.publicKey), 'u1'));
  assert.match(fromTurret, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(fromTurret, uuidProof(d(a.secretKey), d(hq.publicKey), 'u2'));
  assert.notEqual(fromTurret, uuidProof(d(b.secretKey), d(hq.publicKey), 'u1'));
});
