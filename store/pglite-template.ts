// PGlite's initdb takes 3-4 s on an idle machine (20-30 s measured on a loaded one), while opening
// an existing data directory takes 1-2 s. So the first embedded store on a machine initialises a
// template directory once, and every new run's directory starts as a copy of it.
import { constants, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';

/** Where the template lives by default: per PGlite version, since data directories are not portable across it. */
export function defaultTemplateDir(): string {
  const entry = fileURLToPath(import.meta.resolve('@electric-sql/pglite'));
  let version = 'unknown';
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? version;
      break;
    }
  }
  return join(tmpdir(), `oct-pglite-template-${version}`);
}

export function isDataDir(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

async function ensureTemplate(templateDir: string): Promise<void> {
  if (isDataDir(templateDir)) return;
  mkdirSync(dirname(templateDir), { recursive: true });
  // Built aside and renamed in, so a half-built template is never seen, even by a racing process.
  const building = `${templateDir}.building-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const db = await PGlite.create({ dataDir: building });
    await db.close();
    renameSync(building, templateDir);
  } catch (err) {
    if (!isDataDir(templateDir)) throw err;
    // Another process won the race: its template is as good as ours.
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/**
 * Gives `dataDir` a freshly initialised cluster copied from the template, unless it already holds
 * one. Returns whether the template was used. Falls back to PGlite's own initdb on any failure.
 */
export async function seedFromTemplate(dataDir: string, templateDir: string): Promise<boolean> {
  if (isDataDir(dataDir)) return false;
  try {
    await ensureTemplate(templateDir);
    rmSync(dataDir, { recursive: true, force: true });
    // A reflink where the filesystem has them, a plain copy elsewhere.
    cpSync(templateDir, dataDir, { recursive: true, mode: constants.COPYFILE_FICLONE });
    return true;
  } catch {
    rmSync(dataDir, { recursive: true, force: true });
    return false;
  }
}
