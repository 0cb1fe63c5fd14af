// Whether the HQ's sockets use CURVE, and with which keys: the one rule both launchers follow.
// - `keys_dir` set: CURVE with those keys.
// - `allow_plaintext: true`: no CURVE (the original Python turret cannot do it), loudly.
// - neither, bound on loopback only (a local `oct run`): CURVE with keys made for this run, handed
//   to the local turrets. Another local user or process can reach a loopback port, and the local
//   run then exercises the very code path a cluster run does, at a cost measured in BENCHMARKS.md.
// - neither, bound on every interface (`--hq-only`, `oct hq`): refused, naming both keys.
import { resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { type GeneratedKeys, generateKeys, type HqKeys, hqKeysOf, readHqKeys } from '../common/keys-dir.ts';
import { ConfigError, type ProjectConfig } from '../protocol/config.ts';

export type HqSecurity = { kind: 'curve'; keys: HqKeys; keysDir: string | null; ephemeral: GeneratedKeys | null } | { kind: 'plaintext' };

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

export function chooseSecurity(config: ProjectConfig, where: { baseDir: string; configPath: string; bindHost: string }): HqSecurity {
  if (config.keys_dir !== undefined) {
    const keysDir = resolve(where.baseDir, config.keys_dir);
    return { kind: 'curve', keys: readHqKeys(keysDir), keysDir, ephemeral: null };
  }
  if (config.allow_plaintext) return { kind: 'plaintext' };
  if (isLoopback(where.bindHost)) {
    const ephemeral = generateKeys();
    return { kind: 'curve', keys: hqKeysOf(ephemeral, 'keys made for this run'), keysDir: null, ephemeral };
  }
  throw new ConfigError(where.configPath, [
    'keys_dir: required when the HQ listens on every interface (turrets on other machines): make a keys directory with "oct keys DIR" and set "keys_dir": "DIR" (turrets get its hq.pub and turret.key, "oct pack-turrets" packs them), or set "allow_plaintext": true to accept turrets without CURVE (the original Python turret), unauthenticated',
  ]);
}

export function warnIfPlaintext(security: HqSecurity, ports: { publish: string; results: string }, log: Logger): void {
  if (security.kind !== 'plaintext') return;
  log.warn(
    "CURVE is OFF (allow_plaintext: true): anyone who can reach the HQ ports can send results and statuses in any turret's name and read the orders; use it only for turrets that cannot do CURVE, on a network you trust",
    ports,
  );
}
