// Loading a project: its config.json parsed into a typed value, with errors naming the file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type ProjectConfig, parseJsonText, parseProjectConfig } from '../protocol/config.ts';

export interface Project {
  dir: string;
  configPath: string;
  config: ProjectConfig;
}

export function loadProject(pathArg: string): Project {
  const given = resolve(pathArg);
  const isFile = existsSync(given) && statSync(given).isFile();
  const dir = isFile ? resolve(given, '..') : given;
  const configPath = isFile ? given : join(dir, 'config.json');
  if (!existsSync(configPath))
    throw new ConfigError(configPath, ['file not found (a project folder holds config.json; create one with "oct new-project NAME")']);
  const config = parseProjectConfig(parseJsonText(readFileSync(configPath, 'utf8'), configPath), configPath);
  config.turrets.forEach((t, i) => {
    if (!existsSync(resolve(dir, t.script))) throw new ConfigError(configPath, [`turrets[${i}].script: file not found: ${t.script} (relative to ${dir})`]);
    t.extra_files.forEach((f, j) => {
      if (!existsSync(resolve(dir, f))) throw new ConfigError(configPath, [`turrets[${i}].extra_files[${j}]: file not found: ${f}`]);
    });
  });
  return { dir, configPath, config };
}
