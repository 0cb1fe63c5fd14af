// A fresh database per test, on the run's throwaway Postgres (OCT_TEST_DATABASE_URL, set by
// scripts/test.mjs) or, when a test file runs alone, on a cluster started for this process.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
// @ts-expect-error plain ESM helper shared with the test runner script
import { startCluster } from '../../scripts/pg-cluster.mjs';

let own: Promise<{ url: string; stop(): void }> | null = null;

async function baseUrl(): Promise<string> {
  if (process.env.OCT_TEST_DATABASE_URL) return process.env.OCT_TEST_DATABASE_URL;
  const started = (own ??= startCluster().then((c: { url: string; stop(): void }) => {
    process.once('exit', () => c.stop());
    return c;
  }));
  return (await started).url;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = await baseUrl();
  const name = `oct_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = admin.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** One query on its own connection: how a test looks at what the HQ under test stored. */
export async function queryDatabase<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}
