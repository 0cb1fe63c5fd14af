// Chooses the backend: a database URL (a Postgres server) wins over the embedded directory. The
// store comes back migrated and ready. The pg driver is loaded only for a server: loading it
// (and the undici that pg's stream module pulls in) was ~60 ms of every embedded run's start-up.
import type { Logger } from '../common/log.ts';
import { openEmbeddedStore } from './embedded.ts';
import type { Store } from './types.ts';

export interface OpenStoreOptions {
  databaseUrl?: string;
  /** PGlite's data directory, e.g. `<results dir>/db`; used when no databaseUrl is given. */
  embeddedDir?: string;
  log: Logger;
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const log = opts.log.child('store');
  let store: Store;
  if (opts.databaseUrl) store = await (await import('./postgres.ts')).openPostgresStore(opts.databaseUrl, log);
  else if (opts.embeddedDir) store = await openEmbeddedStore(opts.embeddedDir, log);
  else throw new Error('openStore: give a databaseUrl (Postgres server) or an embeddedDir (embedded database)');
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return store;
}
