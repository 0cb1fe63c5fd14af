// Where a turret's config comes from: a JSON file (script path relative to it), or a packed turret
// tarball (from `oct pack-turrets`) extracted to a temp dir.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { x as extract } from 'tar';
import { ConfigError, parseJsonText, parseTurretConfig, type TurretConfig } from '../protocol/config.ts';

export interface LoadedTurretConfig {
  config: TurretConfig;
  /** Absolute path of the transaction script. */
  scriptPath: string;
  /** The folder the config lives in (the unpacked tarball for --tar). */
  baseDir: string;
}

export interface TurretOverrides {
  hqAddress?: string;
  hqPublisher?: number;
  hqRc?: number;
  /** Replaces keys_dir (relative to the working directory, not to the config). */
  keysDir?: string;
}

export function loadTurretConfigFile(file: string, overrides: TurretOverrides = {}): LoadedTurretConfig {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(path, ['file not found']);
  const raw = parseJsonText(readFileSync(path, 'utf8'), path) as Record<string, unknown>;
  const merged = {
    ...raw,
    ...(overrides.hqAddress !== undefined ? { hq_address: overrides.hqAddress } : {}),
    ...(overrides.hqPublisher !== undefined ? { hq_publisher: overrides.hqPublisher } : {}),
    ...(overrides.hqRc !== undefined ? { hq_rc: overrides.hqRc } : {}),
    ...(overrides.keysDir !== undefined ? { keys_dir: resolve(overrides.keysDir) } : {}),
  };
  const config = parseTurretConfig(merged, path);
  const baseDir = dirname(path);
  return { config, scriptPath: resolve(baseDir, config.script), baseDir };
}

export interface ExtractedTurret {
  dir: string;
  configPath: string;
  remove(): void;
}

/** Unpacks a turret tarball into a fresh temp dir; the caller removes it when done. */
export async function extractTurretTar(tarFile: string): Promise<ExtractedTurret> {
  const file = resolve(tarFile);
  if (!existsSync(file)) throw new ConfigError(file, ['turret archive not found']);
  const dir = mkdtempSync(join(tmpdir(), 'oct-turret-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await extract({ file, cwd: dir, strict: true });
  } catch (err) {
    remove();
    throw new ConfigError(file, [`not a readable tar archive: ${(err as Error).message}`]);
  }
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    remove();
    throw new ConfigError(file, ['the archive has no config.json at its root (make it with `oct pack-turrets`)']);
  }
  return { dir, configPath, remove };
}

/** Dependencies listed in an unpacked turret's package.json (turrets_requirements). */
export function packedDependencies(dir: string): Record<string, string> {
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg)) return {};
  const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { dependencies?: Record<string, string> };
  return parsed.dependencies ?? {};
}
