// CURVE keys as oct reads them, and the per-message proof that binds a turret uuid to its key.
// A CURVE key is a Curve25519 (X25519) key of 32 bytes. Two spellings are accepted:
// - Z85, 40 characters: what libzmq, `zmq.curveKeyPair()` and `oct keys` write;
// - PEM, Ed25519 or X25519 (a PKCS#8 private key, an SPKI public key or a certificate): what a
//   Helm template can generate (`genPrivateKey "ed25519"`, `genSelfSignedCertWithKey`), since
//   templates cannot do the scalar multiplication a public key needs. An Ed25519 key is turned
//   into its X25519 twin as libsodium's crypto_sign_ed25519_{sk,pk}_to_curve25519 do.
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, type KeyObject, timingSafeEqual, X509Certificate } from 'node:crypto';

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_INDEX = new Map([...Z85].map((c, i) => [c, i]));

export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Error('z85: length must be a multiple of 4');
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
    let chunk = '';
    for (let k = 0; k < 5; k++) {
      chunk = Z85[v % 85]! + chunk;
      v = Math.floor(v / 85);
    }
    out += chunk;
  }
  return out;
}

/** Null when the text is not Z85 (wrong length, a character outside the alphabet, a value above 2^32). */
export function z85Decode(text: string): Buffer | null {
  if (text.length % 5 !== 0) return null;
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const d = Z85_INDEX.get(text[i + k]!);
      if (d === undefined) return null;
      v = v * 85 + d;
    }
    if (v > 0xffffffff) return null;
    out.writeUInt32BE(v, (i / 5) * 4);
  }
  return out;
}

// DER prefixes of a raw X25519 key, so node:crypto can use the 32 bytes libzmq works with.
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const P = 2n ** 255n - 19n;

function modPow(base: bigint, exp: bigint): bigint {
  let r = 1n;
  let b = base % P;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}

/** The Montgomery u of an Ed25519 public key's Edwards y: u = (1 + y) / (1 − y) mod p. */
function edwardsToMontgomery(pub: Buffer): Buffer {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? pub[i]! & 0x7f : pub[i]!);
  const u = ((1n + y) * modPow((1n - y + P) % P, P - 2n)) % P;
  const out = Buffer.alloc(32);
  let v = u;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 255n);
    v >>= 8n;
  }
  return out;
}

function rawOkp(key: KeyObject, part: 'd' | 'x'): Buffer {
  const jwk = key.export({ format: 'jwk' }) as { d?: string; x?: string };
  return Buffer.from(jwk[part]!, 'base64url');
}

function secretFromPem(key: KeyObject): Buffer | string {
  if (key.asymmetricKeyType === 'x25519') return rawOkp(key, 'd');
  if (key.asymmetricKeyType !== 'ed25519') return `a ${key.asymmetricKeyType} key, not Ed25519 or X25519`;
  // The X25519 scalar of an Ed25519 seed is the first half of its SHA-512 (X25519 clamps it).
  return createHash('sha512').update(rawOkp(key, 'd')).digest().subarray(0, 32);
}

function publicFromPem(key: KeyObject): Buffer | string {
  if (key.asymmetricKeyType === 'x25519') return rawOkp(key, 'x');
  if (key.asymmetricKeyType !== 'ed25519') return `a ${key.asymmetricKeyType} key, not Ed25519 or X25519`;
  return edwardsToMontgomery(rawOkp(key, 'x'));
}

export type KeyKind = 'secret' | 'public';

/**
 * The 32 bytes of a key file's text, or why it is not one (the caller names the file). A secret
 * file may hold a public key's PEM by mistake: that is said, not guessed around.
 */
export function parseCurveKey(text: string, kind: KeyKind): Buffer | string {
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) {
    try {
      if (kind === 'secret') {
        if (!/-----BEGIN PRIVATE KEY-----/.test(t)) return 'a PEM file without a PRIVATE KEY block (a secret key file needs one)';
        return secretFromPem(createPrivateKey(t));
      }
      if (/-----BEGIN CERTIFICATE-----/.test(t)) return publicFromPem(new X509Certificate(t).publicKey);
      if (/-----BEGIN PRIVATE KEY-----/.test(t)) return 'a PRIVATE KEY where a public key belongs (never hand a secret key out)';
      return publicFromPem(createPublicKey(t));
    } catch (err) {
      return `unreadable PEM: ${(err as Error).message}`;
    }
  }
  if (t.length !== 40) return `not a CURVE key: expected 40 Z85 characters (or a PEM Ed25519/X25519 key), got ${t.length} characters`;
  const raw = z85Decode(t);
  return raw ?? 'not a CURVE key: a character outside the Z85 alphabet';
}

/** The public half of a secret key. */
export function publicKeyOf(secret: Buffer): Buffer {
  return rawOkp(createPublicKey(createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: 'der', type: 'pkcs8' })), 'x');
}

export interface CurveKeyPair {
  /** Z85, as zeromq.js takes it. */
  publicKey: string;
  secretKey: string;
}

export function keyPairOf(secret: Buffer): CurveKeyPair {
  return { publicKey: z85Encode(publicKeyOf(secret)), secretKey: z85Encode(secret) };
}

/**
 * What binds a message's uuid to the key of the connection it came on: HMAC-SHA256, keyed with the
 * X25519 secret shared by the turret's key and the HQ's, of the uuid. Only the holder of the
 * turret's secret key (or the HQ's) can make it, and it travels only inside CURVE, so a turret with
 * a key of its own can neither read nor forge another turret's. base64url, 43 characters.
 */
export function uuidProof(ownSecret: Buffer, peerPublic: Buffer, uuid: string): string {
  return proofWith(sharedSecret(ownSecret, peerPublic), uuid);
}

/** The X25519 secret two keys share; the HQ computes it once per trusted key. */
export function sharedSecret(ownSecret: Buffer, peerPublic: Buffer): Buffer {
  return diffieHellman({
    privateKey: createPrivateKey({ key: Buffer.concat([X25519_PKCS8, ownSecret]), format: 'der', type: 'pkcs8' }),
    publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI, peerPublic]), format: 'der', type: 'spki' }),
  });
}

export function proofWith(shared: Buffer, uuid: string): string {
  return createHmac('sha256', shared).update(`oct-turret-uuid:${uuid}`).digest('base64url');
}

export function sameProof(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
