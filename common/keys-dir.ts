// The keys directory: one key per file, so a Kubernetes Secret mounted as a volume, an
// `oct pack-turrets` tar and `oct keys` all carry the same layout (docs/protocol.md#curve).
//
//   hq.key         the HQ's secret key            (the HQ only)
//   hq.pub         the HQ's public key            (turrets: whom to trust)
//   turret.key     the turrets' secret key        (turrets; shared by the turrets oct packs)
//   turret.pub     its public key                 (the HQ trusts it)
//   turrets/*.pub  more turret public keys the HQ trusts (a machine's own key, another team's)
//
// A missing, unreadable or malformed file is a ConfigError naming the file (exit 2).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { curveKeyPair } from 'zeromq';
import { ConfigError } from '../protocol/config.ts';
import { type CurveKeyPair, type KeyKind, keyPairOf, parseCurveKey, publicKeyOf, z85Decode, z85Encode } from '../protocol/curve-key.ts';

export const KEY_FILES = { hqSecret: 'hq.key', hqPublic: 'hq.pub', turretSecret: 'turret.key', turretPublic: 'turret.pub', trustedDir: 'turrets' } as const;

/** What the HQ needs: its own keypair and the turret public keys it accepts (Z85). */
export interface HqKeys {
  hq: CurveKeyPair;
  trusted: string[];
  /** Where they came from, for the log ("ephemeral" for a local run's own keys). */
  source: string;
}

/** What a turret needs: the HQ's public key and its own keypair (Z85). */
export interface TurretKeys {
  hqPublicKey: string;
  turret: CurveKeyPair;
}

function readKey(file: string, kind: KeyKind): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [code === 'ENOENT' ? `${kind} key file not found` : `cannot read the ${kind} key file: ${(err as Error).message}`]);
  }
  const parsed = parseCurveKey(text, kind);
  if (typeof parsed === 'string') throw new ConfigError(file, [parsed]);
  return parsed;
}

/** A secret key and, when its .pub file is there too, the check that they belong together. */
function readPair(dir: string, secretName: string, publicName: string): CurveKeyPair {
  const secret = readKey(join(dir, secretName), 'secret');
  const pair = keyPairOf(secret);
  const pubFile = join(dir, publicName);
  if (existsSync(pubFile) && !readKey(pubFile, 'public').equals(z85Decode(pair.publicKey)!))
    throw new ConfigError(pubFile, [`does not match ${secretName} (a key from another pair: regenerate both with "oct keys")`]);
  return pair;
}

function readableDir(dir: string, key: string): string {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new ConfigError(abs, [`${key}: keys directory not found (create one with "oct keys ${dir}")`]);
  return abs;
}

export function readHqKeys(dir: string, key = 'keys_dir'): HqKeys {
  const abs = readableDir(dir, key);
  const hq = readPair(abs, KEY_FILES.hqSecret, KEY_FILES.hqPublic);
  const trusted: string[] = [];
  const turretPub = join(abs, KEY_FILES.turretPublic);
  const turretKey = join(abs, KEY_FILES.turretSecret);
  if (existsSync(turretPub)) trusted.push(z85Encode(readKey(turretPub, 'public')));
  else if (existsSync(turretKey)) trusted.push(z85Encode(publicKeyOf(readKey(turretKey, 'secret'))));
  const more = join(abs, KEY_FILES.trustedDir);
  if (existsSync(more)) {
    for (const f of readdirSync(more).sort()) if (f.endsWith('.pub')) trusted.push(z85Encode(readKey(join(more, f), 'public')));
  }
  if (trusted.length === 0)
    throw new ConfigError(abs, [
      `${key}: no turret key to trust: the directory needs ${KEY_FILES.turretPublic} or ${KEY_FILES.trustedDir}/*.pub (see "oct keys")`,
    ]);
  return { hq, trusted: [...new Set(trusted)], source: abs };
}

export function readTurretKeys(dir: string, key = 'keys_dir'): TurretKeys {
  const abs = readableDir(dir, key);
  const hqPublicKey = z85Encode(readKey(join(abs, KEY_FILES.hqPublic), 'public'));
  return { hqPublicKey, turret: readPair(abs, KEY_FILES.turretSecret, KEY_FILES.turretPublic) };
}

export interface GeneratedKeys {
  hq: CurveKeyPair;
  turret: CurveKeyPair;
}

export function generateKeys(): GeneratedKeys {
  return { hq: curveKeyPair(), turret: curveKeyPair() };
}

function writeSecret(file: string, z85: string): void {
  writeFileSync(file, `${z85}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // an existing file keeps its mode otherwise
}

/** Writes the files a turret needs (hq.pub, turret.key, turret.pub); the HQ's secret stays out. */
export function writeTurretKeys(dir: string, keys: TurretKeys): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, KEY_FILES.hqPublic), `${keys.hqPublicKey}\n`);
  writeSecret(join(dir, KEY_FILES.turretSecret), keys.turret.secretKey);
  writeFileSync(join(dir, KEY_FILES.turretPublic), `${keys.turret.publicKey}\n`);
}

/** Writes a whole keys directory (what `oct keys` makes). */
export function writeKeysDir(dir: string, keys: GeneratedKeys): string[] {
  writeTurretKeys(dir, turretKeysOf(keys));
  writeSecret(join(dir, KEY_FILES.hqSecret), keys.hq.secretKey);
  return [KEY_FILES.hqSecret, KEY_FILES.hqPublic, KEY_FILES.turretSecret, KEY_FILES.turretPublic].map((f) => join(dir, f));
}

export function turretKeysOf(keys: GeneratedKeys): TurretKeys {
  return { hqPublicKey: keys.hq.publicKey, turret: keys.turret };
}

/** The HQ's side of keys it generated itself (a local run's ephemeral keys). */
export function hqKeysOf(keys: GeneratedKeys, source: string): HqKeys {
  return { hq: keys.hq, trusted: [keys.turret.publicKey], source };
}
