import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { createTestDatabase } from './postgres.ts';

test('a throwaway database answers queries and can be dropped', async () => {
  const db = await createTestDatabase();
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const { rows } = await c.query('SELECT 1 + 1 AS two');
  assert.equal(rows[0].two, 2);
  await c.end();
  await db.drop();
});
