// The HQ tests' shared set-up: a fresh Postgres database and store per test file, HqOptions on
// random loopback ports, and a row counter. Registers its own before/after hooks.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { memoryLogger } from '../../common/log.ts';
import { parseProjectConfig } from '../../protocol/config.ts';
import { openPostgresStore } from '../../store/postgres.ts';
import type { Store } from '../../store/types.ts';
import type { HqOptions } from '../../hq/hq.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { simpleSink } from './simple-sink.ts';

export function hqFixture() {
  let db: TestDatabase;
  let store: Store;
  const log = memoryLogger('debug');
  before(async () => {
    db = await createTestDatabase();
    store = await openPostgresStore(db.url, log);
    await store.migrate();
  });
  after(async () => {
    await store.close();
    await db.drop();
  });
  return {
    log,
    store: () => store,
    options(config: Record<string, unknown>, extra: Partial<HqOptions> = {}): HqOptions {
      return {
        config: parseProjectConfig({ publish_port: 0, rc_port: 0, http_port: 0, stop_grace: 5, ...config }),
        store,
        runName: `run-${Math.random().toString(36).slice(2)}`,
        log,
        bindHost: '127.0.0.1',
        spillDir: mkdtempSync(join(tmpdir(), 'oct-hq-spill-')),
        createSink: process.env.OCT_HQ_TEST_SIMPLE_SINK ? (s, id) => simpleSink(s, id) : undefined,
        ...extra,
      };
    },
    async storedRows(runId: number, where = 'true'): Promise<number> {
      const [r] = await store.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM results WHERE run_id = $1 AND ${where}`, [runId]);
      return Number(r!.n);
    },
  };
}
