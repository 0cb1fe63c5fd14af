// Loading a project: its config.json parsed into a typed value, with errors naming the file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type ProjectConfig, parseJsonText, parseProjectConfig, unknownProjectKeys } from '../protocol/config.ts';

export interface Project {
  dir: string;
  configPath: string;
  config: ProjectConfig;
  /** Keys the config has that oct ignores (typos, mostly), each naming the key. */
  warnings: string[];
}

/**
 * Loads and validates a project. `overrides` (command-line flags, as config keys) are merged into
 * the file's values before parsing, so a bad flag is refused like a bad key, named by `flags`.
 */
export function loadProject(pathArg: string, overrides: Record<string, unknown> = {}, flags: string[] = []): Project {
  const given = resolve(pathArg);
  const isFile = existsSync(given) && statSync(given).isFile();
  const dir = isFile ? resolve(given, '..') : given;
  const configPath = isFile ? given : join(dir, 'config.json');
  if (!existsSync(configPath))
    throw new ConfigError(configPath, ['file not found (a project folder holds config.json; create one with "oct new-project NAME")']);
  const raw = parseJsonText(readFileSync(configPath, 'utf8'), configPath);
  const merged = Object.keys(overrides).length && typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, ...overrides } : raw;
  const config = parseProjectConfig(merged, flags.length ? `${configPath} with ${flags.join(' ')}` : configPath);
  config.turrets.forEach((t, i) => {
    if (!existsSync(resolve(dir, t.script))) throw new ConfigError(configPath, [`turrets[${i}].script: file not found: ${t.script} (relative to ${dir})`]);
    t.extra_files.forEach((f, j) => {
      if (!existsSync(resolve(dir, f))) throw new ConfigError(configPath, [`turrets[${i}].extra_files[${j}]: file not found: ${f}`]);
    });
  });
  return { dir, configPath, config, warnings: unknownProjectKeys(raw).map((w) => `${configPath}: ${w}`) };
}
