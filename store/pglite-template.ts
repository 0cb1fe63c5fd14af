// PGlite's initdb takes 3-4 s on an idle machine (20-30 s measured on a loaded one), opening an
// existing data directory 1-2 s, and applying the migrations to a new one another 0.3-0.7 s. So
// the first embedded store on a machine builds a template directory once (initialised and
// migrated), and every new run's directory starts as a copy of it. The template's name carries
// PGlite's version (data directories are not portable across it) and a hash of the migrations,
// so a changed schema gets a template of its own instead of a stale one.
// Copying the template (40 MB in 1,000 files) took 0.4-1.1 s on the start-up path, so a spare
// copy is made in the background once a store has opened, and the next store renames it in.
import { createHash } from 'node:crypto';
import { constants, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { cp, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? 'unknown';
  }
  return 'unknown';
}

/** The template for this PGlite and this list of migrations, in `root` (the temp directory by default). */
export function templateDirFor(migrations: readonly string[], root = tmpdir()): string {
  const schema = createHash('sha256').update(JSON.stringify(migrations)).digest('hex').slice(0, 16);
  return join(root, `oct-pglite-template-${pgliteVersion()}-${schema}`);
}

export function isDataDir(dir: string): boolean {
  return existsSync(join(dir, 'PG_VERSION'));
}

/**
 * Makes sure `templateDir` holds a template, building one with `build(dir)` when it does not.
 * Built aside and renamed in, so a half-built template is never seen, even by a racing process.
 */
export async function ensureTemplate(templateDir: string, build: (dir: string) => Promise<void>): Promise<void> {
  if (isDataDir(templateDir)) return;
  mkdirSync(dirname(templateDir), { recursive: true });
  const building = `${templateDir}.building-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await build(building);
    renameSync(building, templateDir);
  } catch (err) {
    if (!isDataDir(templateDir)) throw err;
    // Another process won the race: its template is as good as ours.
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/** The ready copy of a template that the next new data directory takes (see makeSpare). */
export function spareDirOf(templateDir: string): string {
  return `${templateDir}.spare`;
}

/**
 * Gives `dataDir` the template's spare copy (a rename) or else a copy of the template, unless it
 * already holds a cluster or there is no template. Returns how; on any failure, false, and PGlite
 * initialises the directory itself.
 */
export function seedFromTemplate(dataDir: string, templateDir: string): 'spare' | 'copy' | false {
  if (isDataDir(dataDir) || !isDataDir(templateDir)) return false;
  try {
    rmSync(dataDir, { recursive: true, force: true });
    // Atomic: of two processes taking the spare at once, one gets it and the other copies.
    renameSync(spareDirOf(templateDir), dataDir);
    if (isDataDir(dataDir)) return 'spare';
  } catch {
    // No spare (or another process took it): copy.
  }
  try {
    rmSync(dataDir, { recursive: true, force: true });
    // A reflink where the filesystem has them, a plain copy elsewhere.
    cpSync(templateDir, dataDir, { recursive: true, mode: constants.COPYFILE_FICLONE });
    return 'copy';
  } catch {
    rmSync(dataDir, { recursive: true, force: true });
    return false;
  }
}

/** Copies the template to its spare in the background (asynchronous I/O), unless there is one. */
export async function makeSpare(templateDir: string): Promise<void> {
  const spare = spareDirOf(templateDir);
  if (existsSync(spare) || !isDataDir(templateDir)) return;
  await removeAbandoned(spare);
  const building = `${spare}.building-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await cp(templateDir, building, { recursive: true, mode: constants.COPYFILE_FICLONE });
    await rename(building, spare).catch((err) => {
      // Another process (or store) made a spare meanwhile: ours is not needed.
      if (!isDataDir(spare)) throw err;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
}

/** Half-made spares of processes that died copying (a second Ctrl-C): 40 MB each in the temp directory. */
async function removeAbandoned(spare: string): Promise<void> {
  const prefix = `${basename(spare)}.building-`;
  const names = await readdir(dirname(spare)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && !alive(pid)) await rm(join(dirname(spare), name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
