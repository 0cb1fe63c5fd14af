// A run named on the command line (oct compare A B, oct run --baseline RUN, "baseline" in config):
// a results folder of `oct run` (its embedded database, its newest finished run), or a run id or
// name in a database (--database-url / OCT_DATABASE_URL, or the store already open). Its figures
// are the report's own statistics.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import type { RunFigures } from '../report/compare.ts';
import { runStats } from '../report/generate.ts';
import { openStore } from '../store/open.ts';
import type { RunInfo, Store } from '../store/types.ts';
import { pickRun, runConfig, SourceError } from './results-source.ts';

export interface OpenedRun extends RunFigures {
  /** Closes the store when this reference opened its own. */
  close(): Promise<void>;
}

async function find(store: Store, ref: string): Promise<RunInfo> {
  if (/^\d+$/.test(ref)) {
    const run = await store.getRun(Number(ref));
    if (!run) throw new SourceError(`no run ${ref} in ${store.location} (oct runs lists them)`);
    return run;
  }
  const named = (await store.listRuns()).filter((r) => r.name === ref).sort((a, b) => b.id - a.id);
  const run = named.find((r) => r.state === 'finished') ?? named[0];
  if (!run) throw new SourceError(`no run named "${ref}" in ${store.location}, and no results folder ${resolve(ref)} (oct runs lists the runs)`);
  return run;
}

export async function openRun(ref: string, opts: { databaseUrl?: string; store?: Store; baseDir?: string; log: Logger }): Promise<OpenedRun> {
  const dir = resolve(opts.baseDir ?? '.', ref);
  let store: Store;
  let owned = false;
  let resultsDir: string | null = null;
  let run: RunInfo;
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    const db = join(dir, 'db');
    if (!existsSync(db)) throw new SourceError(`${dir}: not a results folder of "oct run" (no ${db})`);
    store = await openStore({ embeddedDir: db, log: opts.log });
    owned = true;
    resultsDir = dir;
    run = await pickRun(store).catch(async (err) => {
      await store.close();
      throw err;
    });
  } else {
    const url = opts.databaseUrl ?? process.env.OCT_DATABASE_URL;
    if (opts.store) store = opts.store;
    else if (url) {
      store = await openStore({ databaseUrl: url, log: opts.log });
      owned = true;
    } else throw new SourceError(`${ref}: no such results folder; for a run id or name give --database-url (or set OCT_DATABASE_URL)`);
    try {
      run = await find(store, ref);
    } catch (err) {
      if (owned) await store.close();
      throw err;
    }
  }
  try {
    const { stats } = await runStats(store, run, runConfig(run, resultsDir), { log: opts.log });
    const label = `run ${run.id} (${run.name})`;
    return { label, run, stats, close: async () => (owned ? store.close() : undefined) };
  } catch (err) {
    if (owned) await store.close();
    throw err;
  }
}
