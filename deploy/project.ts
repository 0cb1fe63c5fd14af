// Reads what buildProjectValues needs from a project folder.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject } from '../common/project.ts';
import { type BuildResult, buildProjectValues, neededFiles } from './values.ts';

export function projectValues(projectPath: string): BuildResult & { dir: string } {
  const { dir, config } = loadProject(projectPath);
  const files = new Map<string, Uint8Array>();
  for (const p of neededFiles(config)) files.set(p, readFileSync(join(dir, p)));
  const pkgPath = join(dir, 'package.json');
  const deps = existsSync(pkgPath) ? ((JSON.parse(readFileSync(pkgPath, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {}) : {};
  return { dir, ...buildProjectValues(config, files, deps) };
}
