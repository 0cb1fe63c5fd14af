// Loading a project: its config.json parsed into a typed value, with errors naming the file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type ProjectConfig, parseJsonText, parseProjectConfig, unknownProjectKeys } from '../protocol/config.ts';
import { checkRowsSuffice, type DataSet, MAX_DATA_FILE_BYTES, parseDataText } from '../protocol/data-file.ts';

export interface Project {
  dir: string;
  configPath: string;
  config: ProjectConfig;
  /** The rows of `data.file`, read and checked before anything runs. */
  data: DataSet | null;
}

/** The project's data file, read and parsed; a bad one is a ConfigError naming the file and the counts. */
export function loadDataSet(config: ProjectConfig, dir: string, configPath: string): DataSet | null {
  if (!config.data) return null;
  const path = resolve(dir, config.data.file);
  if (!existsSync(path) || !statSync(path).isFile()) throw new ConfigError(configPath, [`data.file: file not found: ${config.data.file} (relative to ${dir})`]);
  const size = statSync(path).size;
  if (size > MAX_DATA_FILE_BYTES)
    throw new ConfigError(path, [`the data file is ${size} bytes; at most ${MAX_DATA_FILE_BYTES} (each turret's rows travel in one order to every turret)`]);
  const data: DataSet = { file: path, policy: config.data.policy, rows: parseDataText(readFileSync(path, 'utf8'), path) };
  checkRowsSuffice(
    data,
    config.turrets.reduce((a, t) => a + t.canons * t.replicas, 0),
    path,
  );
  return data;
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
  const unknown = unknownProjectKeys(raw);
  if (unknown.length) throw new ConfigError(configPath, [...unknown, 'keys meant for other tools may start with "x-" or "_"']);
  const merged = Object.keys(overrides).length && typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, ...overrides } : raw;
  const config = parseProjectConfig(merged, flags.length ? `${configPath} with ${flags.join(' ')}` : configPath);
  config.turrets.forEach((t, i) => {
    if (!existsSync(resolve(dir, t.script))) throw new ConfigError(configPath, [`turrets[${i}].script: file not found: ${t.script} (relative to ${dir})`]);
    t.extra_files.forEach((f, j) => {
      if (!existsSync(resolve(dir, f))) throw new ConfigError(configPath, [`turrets[${i}].extra_files[${j}]: file not found: ${f}`]);
    });
  });
  const data = loadDataSet(config, dir, configPath);
  return { dir, configPath, config, data };
}
