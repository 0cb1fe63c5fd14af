// Where stored results come from for the report, CSV and runs commands: a results folder (its
// embedded database in RESULTS_DIR/db, its config.json) or a Postgres server (--database-url or
// OCT_DATABASE_URL). Paths are resolved against the working directory, so any directory works.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { parseJsonText, parseProjectConfig, type ProjectConfig } from '../protocol/config.ts';
import { openStore } from '../store/open.ts';
import type { RunInfo, Store } from '../store/types.ts';

export class SourceError extends Error {}

export interface ResultsSource {
  store: Store;
  /** The results folder, when the results came from one. */
  resultsDir: string | null;
}

export async function openResults(opts: { resultsDir?: string; databaseUrl?: string; log: Logger }): Promise<ResultsSource> {
  const url = opts.databaseUrl ?? process.env.OCT_DATABASE_URL;
  if (opts.resultsDir && !url) {
    const dir = resolve(opts.resultsDir);
    const db = join(dir, 'db');
    if (!existsSync(db)) throw new SourceError(`${dir}: no embedded results database (expected ${db}); for a Postgres server give --database-url`);
    return { store: await openStore({ embeddedDir: db, log: opts.log }), resultsDir: dir };
  }
  if (!url) throw new SourceError('give a results folder or --database-url (or set OCT_DATABASE_URL)');
  return { store: await openStore({ databaseUrl: url, log: opts.log }), resultsDir: opts.resultsDir ? resolve(opts.resultsDir) : null };
}

/** The run asked for, else the newest finished run (else the newest run of any state). */
export async function pickRun(store: Store, runId?: number): Promise<RunInfo> {
  if (runId !== undefined) {
    const run = await store.getRun(runId);
    if (!run) throw new SourceError(`no run ${runId} in ${store.location} (oct runs lists them)`);
    return run;
  }
  const runs = await store.listRuns();
  if (!runs.length) throw new SourceError(`no runs stored in ${store.location}`);
  const newest = (list: RunInfo[]) =>
    list.reduce((a, b) => (b.createdAt.getTime() > a.createdAt.getTime() || (b.createdAt.getTime() === a.createdAt.getTime() && b.id > a.id) ? b : a));
  const finished = runs.filter((r) => r.state === 'finished');
  return newest(finished.length ? finished : runs);
}

/** config.json of the results folder when present (the original's rebuild read it), else the run's stored config. */
export function runConfig(run: RunInfo, resultsDir: string | null): ProjectConfig {
  const file = resultsDir ? join(resultsDir, 'config.json') : null;
  if (file && existsSync(file)) return parseProjectConfig(parseJsonText(readFileSync(file, 'utf8'), file), file);
  return parseProjectConfig(run.config ?? {}, `run ${run.id} stored config`);
}

/** The project a results folder belongs to (PROJECT/results/results_x), for its report template. */
export function projectOf(resultsDir: string | null): string | undefined {
  if (!resultsDir) return undefined;
  const project = dirname(dirname(resultsDir));
  return existsSync(join(project, 'config.json')) ? project : undefined;
}
