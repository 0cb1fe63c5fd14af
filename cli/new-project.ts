// Scaffolds a project as the original's oct-newproject did: config.json, templates/, test_scripts/.
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCAFFOLD = join(dirname(fileURLToPath(import.meta.url)), 'scaffold');
const DEFAULT_REPORT_TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), '..', 'report', 'templates', 'report.html');

export class ProjectExistsError extends Error {}

export function createProject(dir: string, opts: { force?: boolean; withReportTemplate?: boolean } = {}): string[] {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length > 0 && !opts.force) {
    throw new ProjectExistsError(`${dir} exists and is not empty (use --force to write into it)`);
  }
  mkdirSync(target, { recursive: true });
  cpSync(SCAFFOLD, target, { recursive: true });
  // npm would turn a packaged ".gitignore" into ".npmignore"; ship it under another name.
  renameSync(join(target, 'gitignore'), join(target, '.gitignore'));
  if (opts.withReportTemplate && existsSync(DEFAULT_REPORT_TEMPLATE)) {
    cpSync(DEFAULT_REPORT_TEMPLATE, join(target, 'templates', 'report.html'));
  }
  const created: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else created.push(r);
    }
  };
  walk(target, '');
  return created.sort();
}
