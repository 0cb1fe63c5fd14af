import { MIGRATIONS } from './schema.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { createTestDatabase } from '../test/support/postgres.ts';
import { openStore } from './open.ts';
import { redactUrl } from './postgres.ts';
import { freePort } from '../test/support/processes.ts';

const tmp = mkdtempSync(join(tmpdir(), 'oct-open-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a refused connection fails fast, naming host, port and cause', async () => {
  const port = await freePort();
  const t0 = Date.now();
  await assert.rejects(openStore({ databaseUrl: `postgres://oct:hunter2@127.0.0.1:${port}/oct`, log: memoryLogger() }), (err: Error) => {
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}/oct`));
    assert.match(err.message, /ECONNREFUSED/);
    assert.ok(!err.message.includes('hunter2'), 'no password in the message');
    return true;
  });
  assert.ok(Date.now() - t0 < 2_000);
});

test('a server that accepts but never answers times out in about 5 s', async () => {
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const { port } = silent.address() as { port: number };
  const t0 = Date.now();
  try {
    await assert.rejects(openStore({ databaseUrl: `postgres://u@127.0.0.1:${port}/db`, log: memoryLogger() }), (err: Error) => {
      assert.match(err.message, new RegExp(`results database at 127\\.0\\.0\\.1:${port}/db: .*timeout`, 'i'));
      return true;
    });
    const took = Date.now() - t0;
    assert.ok(took >= 4_500 && took < 8_000, `took ${took} ms`);
  } finally {
    sockets.forEach((s) => s.destroy());
    silent.close();
  }
});

test('a wrong database name is reported with the server message', async () => {
  const db = await createTestDatabase();
  const url = db.url.replace(/\/[^/]+$/, '/no_such_db');
  await assert.rejects(openStore({ databaseUrl: url, log: memoryLogger() }), /no_such_db.*does not exist/);
  await db.drop();
});

test('the URL wins over the embedded directory; location hides the password', async () => {
  const db = await createTestDatabase();
  const url = db.url.replace('postgres://postgres@', 'postgres://postgres:secret@');
  const store = await openStore({ databaseUrl: url, embeddedDir: join(tmp, 'unused'), log: memoryLogger() });
  assert.equal(store.kind, 'postgres');
  assert.ok(!store.location.includes('secret'));
  assert.ok(store.location.startsWith('postgres://postgres@127.0.0.1:'));
  await store.close();
  await db.drop();
  assert.equal(redactUrl('postgres://a:b@h:1/d?sslmode=disable'), 'postgres://a@h:1/d?sslmode=disable');
});

test('neither a URL nor a directory is an error', async () => {
  await assert.rejects(openStore({ log: memoryLogger() }), /databaseUrl.*embeddedDir/);
});

test('two processes migrating one database at once apply the schema once', async () => {
  const db = await createTestDatabase();
  const stores = await Promise.all(Array.from({ length: 4 }, () => openStore({ databaseUrl: db.url, log: memoryLogger() })));
  const rows = await stores[0]!.sql.query<{ version: number }>('SELECT version FROM oct_schema_migrations ORDER BY version');
  assert.deepEqual(
    rows,
    MIGRATIONS.map((_, i) => ({ version: i + 1 })),
  );
  await Promise.all(stores.map((s) => s.close()));
  await db.drop();
});
