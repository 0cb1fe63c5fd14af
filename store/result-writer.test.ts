import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryLogger } from '../common/log.ts';
import { ResultBatchBuilder, type ResultBatch } from '../protocol/results.ts';
// @ts-expect-error plain ESM helper shared with the test runner script
import { startCluster } from '../scripts/pg-cluster.mjs';
import { createTestDatabase } from '../test/support/postgres.ts';
import { openStore } from './open.ts';
import { ResultDrainError, ResultWriter } from './result-writer.ts';
import { readSpillFile } from './spill-file.ts';
import type { Store } from './types.ts';

const tmp = mkdtempSync(join(tmpdir(), 'oct-writer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A batch whose rows' elapsed are from, from+1, …: stored order is checkable. */
function batch(
  from: number,
  n: number,
  turret: { turretUuid: string | null; turretName: string | null } = { turretUuid: null, turretName: null },
): ResultBatch {
  const b = new ResultBatchBuilder();
  for (let i = from; i < from + n; i++) {
    b.add({ elapsed: i, epoch: 1.7e9 + i / 1000, scriptrunTime: 0.001, error: i % 10 ? null : 'boom', customTimers: i % 2 ? { t: i } : {} });
  }
  return b.build({ ...turret, seq: null });
}

async function count(store: Store, runId: number): Promise<number> {
  const [r] = await store.sql.query<{ n: number }>('SELECT count(*) AS n FROM results WHERE run_id = $1', [runId]);
  return r!.n;
}

/** A store that takes every COPY at once and keeps only the batches' row counts. */
function memoryStore(stored: number[]): Pick<Store, 'openResultsCopy'> {
  return {
    openResultsCopy: async () => ({
      write: async (batches) => batches.forEach((b) => stored.push(b.count)),
      end: async () => undefined,
      abort: () => undefined,
    }),
  };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function withStore<T>(fn: (store: Store, spillDir: string) => Promise<T>): Promise<T> {
  const db = await createTestDatabase();
  const store = await openStore({ databaseUrl: db.url, log: memoryLogger() });
  try {
    return await fn(store, mkdtempSync(join(tmp, 'spill-')));
  } finally {
    await store.close();
    await db.drop();
  }
}

test('200k rows from many turrets are written and counted exactly', async () => {
  await withStore(async (store, spillDir) => {
    const run = await store.createRun({ name: 'bulk', config: {}, hqId: null });
    const w = new ResultWriter({ store, runId: run.id, log: memoryLogger(), spillDir });
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      w.enqueue(batch(i * 100, 100, { turretUuid: `u${i % 4}`, turretName: i % 8 === 7 ? null : `t${i % 4}` }));
      if (i % 100 === 99) await sleep(0); // let the writer run, as the socket loop would
    }
    await w.drain(20_000);
    const secs = (performance.now() - t0) / 1000;
    assert.equal(w.stats().writtenRows, 200_000);
    assert.equal(await count(store, run.id), 200_000);
    const [agg] = await store.sql.query<{ s: number; nulls: number; errors: number; timers: number }>(
      `SELECT sum(elapsed) AS s, count(*) FILTER (WHERE turret_name IS NULL) AS nulls,
              count(error) AS errors, count(custom_timers) AS timers FROM results WHERE run_id = $1`,
      [run.id],
    );
    assert.equal(agg!.s, (199_999 * 200_000) / 2);
    assert.equal(agg!.nulls, 25_000);
    assert.equal(agg!.errors, 20_000);
    assert.equal(agg!.timers, 100_000);
    const s = w.stats();
    assert.deepEqual([s.queuedRows, s.spilledRows, s.inFlightRows, s.lagSeconds, s.failedWrites], [0, 0, 0, 0, 0]);
    await w.close();
    console.log(`# 200k rows in ${secs.toFixed(2)} s = ${Math.round(200_000 / secs)} rows/s`);
  });
});

test('a small memory bound spills to disk and every row is written in order', async () => {
  await withStore(async (store, spillDir) => {
    const run = await store.createRun({ name: 'spill', config: {}, hqId: null });
    const log = memoryLogger();
    const w = new ResultWriter({ store, runId: run.id, log, spillDir, maxQueuedRows: 1_000, flushRows: 2_000 });
    let sawSpill = 0;
    for (let i = 0; i < 500; i++) {
      w.enqueue(batch(i * 100, 100, { turretUuid: 'u', turretName: 'n' }));
      sawSpill = Math.max(sawSpill, w.stats().spilledRows);
      assert.ok(w.stats().queuedRows <= 1_000, 'memory stays under the bound');
      if (i % 50 === 49) await sleep(1);
    }
    assert.ok(sawSpill > 10_000, `spilled ${sawSpill}`);
    assert.ok(log.lines.some((l) => l.includes('spilling results to disk')));
    await w.drain(20_000);
    assert.equal(w.stats().writtenRows, 50_000);
    // Heap order is insertion order in a fresh table without deletes.
    const rows = await store.sql.query<{ elapsed: number }>('SELECT elapsed FROM results WHERE run_id = $1 ORDER BY ctid', [run.id]);
    assert.equal(rows.length, 50_000);
    rows.forEach((r, i) => assert.equal(r.elapsed, i));
    await w.close();
    assert.equal(existsSync(w.spillPath), false);
  });
});

test('the results table going away and coming back loses nothing', async () => {
  await withStore(async (store, spillDir) => {
    const run = await store.createRun({ name: 'flaky', config: {}, hqId: null });
    const log = memoryLogger();
    const w = new ResultWriter({ store, runId: run.id, log, spillDir, flushMs: 20, retryMinMs: 20, retryMaxMs: 200, maxQueuedRows: 5_000 });
    w.enqueue(batch(0, 1_000, { turretUuid: 'u', turretName: 'n' }));
    await w.drain(5_000);
    await store.sql.query('ALTER TABLE results RENAME TO results_away');
    await store.sql.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()');
    for (let i = 1; i <= 20; i++) w.enqueue(batch(i * 1_000, 1_000, { turretUuid: 'u', turretName: 'n' }));
    await until('failed writes', () => w.stats().failedWrites >= 3);
    const down = w.stats();
    assert.match(down.lastError ?? '', /results/);
    assert.equal(down.writtenRows, 1_000);
    assert.equal(down.queuedRows + down.spilledRows + down.inFlightRows, 20_000);
    assert.ok(down.spilledRows > 0);
    await sleep(100);
    assert.ok(w.stats().lagSeconds > 0.05);
    await store.sql.query('ALTER TABLE results_away RENAME TO results');
    await w.drain(10_000);
    assert.equal(await count(store, run.id), 21_000);
    assert.equal(w.stats().writtenRows, 21_000);
    assert.ok(log.lines.some((l) => l.includes('database writes recovered')));
    await w.close();
  });
});

test('drain times out with a clear error, and the rows left are recoverable from the file', async () => {
  await withStore(async (store, spillDir) => {
    const run = await store.createRun({ name: 'stuck', config: {}, hqId: null });
    const w = new ResultWriter({
      store,
      runId: run.id,
      log: memoryLogger(),
      spillDir,
      flushMs: 10,
      retryMinMs: 10,
      retryMaxMs: 50,
      maxQueuedRows: 2_000,
      flushRows: 1_000,
    });
    await store.sql.query('ALTER TABLE results RENAME TO results_away');
    for (let i = 0; i < 10; i++) w.enqueue(batch(i * 500, 500, { turretUuid: 'u', turretName: 'n' }));
    const err = await w.drain(300).then(
      () => assert.fail('drain should time out'),
      (e: unknown) => e as ResultDrainError,
    );
    assert.ok(err instanceof ResultDrainError);
    assert.equal(err.unwrittenRows, 5_000);
    assert.ok(err.recoveryFile && existsSync(err.recoveryFile));
    assert.match(err.message, /5000 rows not written after 300 ms/);
    assert.ok(err.message.includes(err.recoveryFile));
    assert.match(err.message, /last database error: .*results/);
    w.enqueue(batch(99_999, 1, { turretUuid: 'u', turretName: 'n' }));
    assert.equal(w.stats().refusedRows, 1, 'rows after close are counted, not silently lost');

    await store.sql.query('ALTER TABLE results_away RENAME TO results');
    const recovered: ResultBatch[] = [];
    for await (const e of readSpillFile(err.recoveryFile)) {
      assert.equal(e.runId, run.id);
      recovered.push(e.batch);
    }
    await store.writeResults(run.id, recovered);
    const rows = await store.sql.query<{ elapsed: number }>('SELECT elapsed FROM results WHERE run_id = $1 ORDER BY ctid', [run.id]);
    assert.deepEqual(
      rows.map((r) => r.elapsed),
      Array.from({ length: 5_000 }, (_, i) => i),
    );
    await w.close();
  });
});

/** A Postgres server of our own that can be stopped and started again on the same port and data. */
async function restartableServer() {
  const c = (await startCluster()) as { url: string; port: number; dir: string; stop(): void };
  const asRoot = userInfo().uid === 0;
  const pgctl = (...args: string[]) =>
    execFileSync(asRoot ? 'runuser' : 'pg_ctl', asRoot ? ['-u', 'postgres', '--', 'pg_ctl', ...args] : args, { stdio: 'pipe' });
  const data = join(c.dir, 'data');
  return {
    url: c.url,
    // Fast, not immediate: with synchronous_commit=off an immediate stop is a crash that loses the
    // last acknowledged commits, which is the test cluster's durability trade, not the writer's.
    down: () => pgctl('-D', data, '-m', 'fast', '-w', 'stop'),
    up: () =>
      pgctl(
        '-D',
        data,
        '-l',
        join(c.dir, 'log'),
        '-w',
        '-o',
        `-p ${c.port} -k ${c.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`,
        'start',
      ),
    remove: () => c.stop(),
  };
}

test('a database server that stops and starts again loses nothing', async () => {
  const server = await restartableServer();
  const spillDir = mkdtempSync(join(tmp, 'spill-'));
  const log = memoryLogger();
  const store = await openStore({ databaseUrl: server.url, log });
  try {
    const run = await store.createRun({ name: 'restart', config: {}, hqId: null });
    const w = new ResultWriter({ store, runId: run.id, log, spillDir, flushMs: 20, retryMinMs: 50, retryMaxMs: 300, maxQueuedRows: 3_000 });
    w.enqueue(batch(0, 2_000, { turretUuid: 'u', turretName: 'n' }));
    await w.drain(5_000);
    server.down();
    for (let i = 1; i <= 10; i++) w.enqueue(batch(i * 1_000, 1_000, { turretUuid: 'u', turretName: 'n' }));
    await until('failed writes', () => w.stats().failedWrites >= 2);
    assert.match(w.stats().lastError ?? '', /127\.0\.0\.1|ECONNREFUSED|terminat|connect/i);
    server.up();
    await w.drain(15_000);
    assert.equal(w.stats().writtenRows, 12_000);
    assert.equal(await count(store, run.id), 12_000);
    await w.close();
  } finally {
    await store.close();
    server.remove();
  }
});

test('enqueue never throws, even on a malformed batch', async () => {
  const log = memoryLogger();
  const store = memoryStore([]);
  const w = new ResultWriter({ store, runId: 1, log, spillDir: join(tmp, 'never'), maxQueuedRows: 0 });
  assert.doesNotThrow(() => w.enqueue({ count: 3 } as unknown as ResultBatch));
  assert.equal(w.stats().refusedRows, 3);
  assert.match(w.stats().lastError ?? '', /enqueue failed/);
  await w.close();
});

test('a spill file left by an earlier process is set aside, not overwritten', async () => {
  const spillDir = mkdtempSync(join(tmp, 'orphan-'));
  const stored: number[] = [];
  const store = memoryStore(stored);
  const log = memoryLogger();
  const first = new ResultWriter({ store, runId: 5, log, spillDir, maxQueuedRows: 10, flushMs: 60_000 });
  first.enqueue(batch(0, 100, { turretUuid: 'u', turretName: 'n' }));
  first.enqueue(batch(100, 100, { turretUuid: 'u', turretName: 'n' }));
  await sleep(300); // the first process "crashes" with rows in its spill file
  assert.ok(existsSync(first.spillPath));
  await first.close(); // closing with rows left keeps the file, as a crash would
  const second = new ResultWriter({ store, runId: 5, log, spillDir, maxQueuedRows: 10 });
  second.enqueue(batch(200, 100, { turretUuid: 'u', turretName: 'n' }));
  await second.drain(5_000);
  const orphan = log.lines.find((l) => l.includes('from an earlier process'));
  assert.ok(orphan);
  const path = /path=(\S+)/.exec(orphan)![1]!;
  let rows = 0;
  for await (const e of readSpillFile(path)) rows += e.batch.count;
  assert.equal(rows, 200);
  await second.close();
});

test('the open COPY (binary) stores exactly what the COPY text stores', async () => {
  await withStore(async (store) => {
    const odd = ['tab\there', 'new\nline\r', 'back\\slash', 'nul\u0000x', 'lone \ud800 surrogate', 'ünïcødé ✓ 🎯', '"quoted"', ''];
    const b = new ResultBatchBuilder();
    for (let i = 0; i < 64; i++) {
      const timers: Record<string, number> = {};
      if (i % 3 === 0) timers[odd[i % odd.length]!] = [0.1, 1e-7, 123456789.123456, -0, 2 ** 60, Number.NaN, Infinity][i % 7]!;
      if (i % 5 === 0) timers.plain = i / 7;
      b.add({ elapsed: i / 3, epoch: 1.7e9 + i / 1_000_003, scriptrunTime: i * 1e-9, error: i % 4 ? null : odd[i % odd.length]! || 'e', customTimers: timers });
    }
    const batches = [b.build({ turretUuid: 'u-\t1', turretName: odd[3]!, seq: 1 }), batch(0, 10), { ...batch(10, 5), turretUuid: null, turretName: odd[5]! }];
    const a = await store.createRun({ name: 'text', config: {}, hqId: null });
    const c = await store.createRun({ name: 'binary', config: {}, hqId: null });
    await store.writeResults(a.id, batches);
    const copy = await store.openResultsCopy(c.id);
    await copy.write(batches.slice(0, 2));
    await copy.write(batches.slice(2));
    await copy.end();
    const rows = (run: number) =>
      store.sql.query(
        `SELECT turret_uuid, turret_name, elapsed::text AS e, epoch::text AS ep, scriptrun_time::text AS s, error, custom_timers::text AS t
         FROM results WHERE run_id = $1 ORDER BY ctid`,
        [run],
      );
    const [ta, tc] = [await rows(a.id), await rows(c.id)];
    assert.equal(ta.length, 64 + 15);
    assert.deepEqual(tc, ta);
  });
});
