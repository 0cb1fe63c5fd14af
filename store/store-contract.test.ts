// One contract, two backends: every test runs against the Postgres server and the embedded PGlite.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { batchRows, ResultBatchBuilder, type ResultRow } from '../protocol/results.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { openStore } from './open.ts';
import { MIGRATIONS } from './schema.ts';
import type { AggregateRow, ErrorCountRow, Store } from './types.ts';

interface Backend {
  name: string;
  open(): Promise<{ store: Store; reopen(): Promise<Store>; cleanup(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'postgres',
    async open() {
      const db: TestDatabase = await createTestDatabase();
      const log = memoryLogger();
      return {
        store: await openStore({ databaseUrl: db.url, log }),
        reopen: () => openStore({ databaseUrl: db.url, log }),
        cleanup: () => db.drop(),
      };
    },
  },
  {
    name: 'embedded',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'oct-embedded-'));
      const log = memoryLogger();
      return {
        store: await openStore({ embeddedDir: join(dir, 'db'), log }),
        reopen: () => openStore({ embeddedDir: join(dir, 'db'), log }),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
];

const ODD = [
  'tab\there',
  'new\nline',
  'cr\r\nlf',
  'back\\slash \\N \\t',
  `quotes ' " \``,
  'unicode ✓ 日本語 😀',
  '<script>alert("x")</script>',
  '\\.',
  'nul\u0000byte',
];

type StoredRow = {
  turret_uuid: string | null;
  turret_name: string | null;
  elapsed: number;
  epoch: number;
  scriptrun_time: number;
  error: string | null;
  custom_timers: Record<string, number> | null;
};

for (const backend of backends) {
  describe(`store contract: ${backend.name}`, () => {
    let store: Store;
    let reopen: () => Promise<Store>;
    let cleanup: () => Promise<void>;

    before(async () => {
      ({ store, reopen, cleanup } = await backend.open());
    });
    after(async () => {
      await store?.close();
      await cleanup?.();
    });

    test('kind and location', () => {
      assert.equal(store.kind, backend.name);
      assert.ok(store.location.length > 0);
      assert.ok(!store.location.includes('secret'));
    });

    test('migrate is idempotent and records its version once', async () => {
      await store.migrate();
      await store.migrate();
      const rows = await store.sql.query<{ version: number }>('SELECT version FROM oct_schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.map((r) => r.version),
        MIGRATIONS.map((_, i) => i + 1),
      );
    });

    test('run lifecycle: create, find unfinished, update, list', async () => {
      const run = await store.createRun({ name: 'demo', config: { run_time: 10, nested: { a: [1, 2] } }, hqId: 'hq-1' });
      assert.equal(typeof run.id, 'number');
      assert.equal(run.state, 'waiting');
      assert.deepEqual(run.config, { run_time: 10, nested: { a: [1, 2] } });
      assert.equal(run.hqId, 'hq-1');
      assert.ok(run.createdAt instanceof Date);
      assert.equal(run.startedAt, null);

      assert.equal((await store.findUnfinishedRun('demo'))?.id, run.id);
      const started = new Date('2024-05-01T12:00:00.123Z');
      await store.updateRun(run.id, { state: 'running', startedAt: started });
      const running = await store.getRun(run.id);
      assert.equal(running?.state, 'running');
      assert.equal(running?.startedAt?.toISOString(), started.toISOString());

      const ended = new Date('2024-05-01T12:01:00.456Z');
      await store.updateRun(run.id, { state: 'finished', endedAt: ended, summary: { total: 5 }, error: null });
      const done = await store.getRun(run.id);
      assert.equal(done?.state, 'finished');
      assert.equal(done?.endedAt?.toISOString(), ended.toISOString());
      assert.deepEqual(done?.summary, { total: 5 });
      assert.equal(await store.findUnfinishedRun('demo'), null);
      assert.equal(await store.getRun(999_999), null);
      await assert.rejects(store.updateRun(999_999, { state: 'failed' }), /no run with id 999999/);

      const other = await store.createRun({ name: 'other', config: null, hqId: null });
      assert.equal(other.config, null);
      const all = await store.listRuns();
      assert.ok(all.findIndex((r) => r.id === run.id) < all.findIndex((r) => r.id === other.id));
    });

    test('turrets upsert and status changes', async () => {
      const run = await store.createRun({ name: 'turrets', config: {}, hqId: null });
      const t0 = new Date('2024-01-01T00:00:00Z');
      const t1 = new Date('2024-01-01T00:00:05Z');
      await store.upsertTurret(run.id, { uuid: 'u1', name: 'navy', canons: 10, rampup: 2.5, script: 'v_user.ts', state: 'ready', firstSeen: t0, lastSeen: t0 });
      await store.upsertTurret(run.id, {
        uuid: 'u1',
        name: 'navy',
        canons: 10,
        rampup: 2.5,
        script: 'v_user.ts',
        state: 'running',
        firstSeen: t1,
        lastSeen: t1,
      });
      await store.upsertTurret(run.id, { uuid: 'u2', name: "o'neil\t", canons: null, rampup: null, script: null, state: 'lost', firstSeen: t1, lastSeen: t1 });
      const rows = await store.sql.query<{ uuid: string; name: string; status: string; first_seen: Date; last_seen: Date; rampup: number; canons: number }>(
        'SELECT * FROM turrets WHERE run_id = $1 ORDER BY uuid',
        [run.id],
      );
      assert.equal(rows.length, 2);
      assert.equal(rows[0]!.status, 'running');
      assert.equal(rows[0]!.first_seen.toISOString(), t0.toISOString());
      assert.equal(rows[0]!.last_seen.toISOString(), t1.toISOString());
      assert.equal(rows[0]!.rampup, 2.5);
      assert.equal(rows[0]!.canons, 10);
      assert.equal(rows[1]!.name, "o'neil\t");

      await store.recordStatusChange(run.id, { uuid: 'u1', name: 'navy', state: 'ready', rawStatus: 'Ready', reason: null, at: t0 });
      await store.recordStatusChange(run.id, { uuid: 'u1', name: 'navy', state: 'aborted', rawStatus: 'Aborted', reason: 'script <b>crashed</b>', at: t1 });
      const changes = await store.sql.query<{ status: string; raw_status: string; reason: string | null; at: Date }>(
        'SELECT status, raw_status, reason, at FROM turret_status_changes WHERE run_id = $1 ORDER BY at',
        [run.id],
      );
      assert.deepEqual(
        changes.map((c) => [c.status, c.raw_status, c.reason, c.at.toISOString()]),
        [
          ['ready', 'Ready', null, t0.toISOString()],
          ['aborted', 'Aborted', 'script <b>crashed</b>', t1.toISOString()],
        ],
      );
    });

    test('artifacts round-trip bytes and are replaced by name', async () => {
      const run = await store.createRun({ name: 'artifacts', config: {}, hqId: null });
      const bytes = Buffer.from([0, 1, 2, 255, 92, 9, 10]);
      await store.saveArtifact(run.id, 'report.html', bytes);
      assert.deepEqual(await store.getArtifact(run.id, 'report.html'), bytes);
      await store.saveArtifact(run.id, 'report.html', Buffer.from('v2'));
      assert.equal((await store.getArtifact(run.id, 'report.html'))?.toString(), 'v2');
      assert.equal(await store.getArtifact(run.id, 'missing'), null);
      const big = Buffer.alloc(1 << 20, 7);
      await store.saveArtifact(run.id, 'big.bin', big);
      assert.equal((await store.getArtifact(run.id, 'big.bin'))?.length, big.length);
    });

    test('delivered messages commit with the rows or aggregates they carried, and an aborted COPY records none', async () => {
      const run = await store.createRun({ name: 'delivered', config: {}, hqId: null });
      const b = new ResultBatchBuilder();
      b.add({ elapsed: 1, epoch: 1_700_000_000, scriptrunTime: 0.1, error: null, customTimers: {} });
      const batch = b.build({ turretUuid: 'u1', turretName: 't1', seq: 3 });
      const kept = await store.openResultsCopy(run.id);
      await kept.write([batch]);
      await kept.end([{ uuid: 'u1', seq: 3 }]);
      const dropped = await store.openResultsCopy(run.id);
      await dropped.write([batch]);
      dropped.abort(new Error('the HQ gave up'));
      const agg: AggregateRow = {
        second: 0,
        turretUuid: 'u1',
        turretName: 't1',
        series: 's',
        errors: 0,
        hist: { n: 1, min: 1, max: 1, mean: 1, m2: 0, b: [5, 1] },
      };
      await store.writeAggregates(run.id, [agg], [], [{ uuid: 'u1', seq: 4 }]);
      // A write the database refuses records nothing either.
      await assert.rejects(store.writeAggregates(run.id, [{ ...agg, hist: { ...agg.hist, b: [5, 0] } }], [], [{ uuid: 'u1', seq: 5 }]));
      const seqs = (await store.readDelivered(run.id)).map((d) => `${d.uuid}:${d.seq}`).sort();
      assert.deepEqual(seqs, ['u1:3', 'u1:4']);
      const [n] = await store.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM results WHERE run_id = $1', [run.id]);
      assert.equal(n!.n, 1);
    });

    test('writeResults round-trips errors, NULL names, custom timers and odd characters', async () => {
      const run = await store.createRun({ name: 'results', config: {}, hqId: null });
      const rows: ResultRow[] = [];
      for (let i = 0; i < 50; i++) {
        const odd = ODD[i % ODD.length]!;
        rows.push({
          elapsed: i * 0.25,
          epoch: 1_700_000_000 + i / 3,
          scriptrunTime: 0.001 * (i + 1),
          error: i % 3 === 0 ? odd : i % 7 === 0 ? 'plain error' : null,
          customTimers: i % 2 ? { [odd]: i / 10, "step 'two'": 1e-7 } : i % 5 === 0 ? { only: 3 } : {},
        });
      }
      const b = new ResultBatchBuilder();
      rows.forEach((r) => b.add(r));
      const named = b.build({ turretUuid: 'uuid-1', turretName: 'navy\tfleet <script>', seq: 1 });
      const legacy = new ResultBatchBuilder();
      legacy.add({ elapsed: 1, epoch: 1_700_000_001, scriptrunTime: 0.5, error: null, customTimers: {} });
      const unnamed = legacy.build({ turretUuid: null, turretName: null, seq: null });

      assert.equal(await store.writeResults(run.id, [named, unnamed]), 51);
      assert.equal(await store.writeResults(run.id, []), 0);

      const stored = await store.sql.query<StoredRow>(
        'SELECT turret_uuid, turret_name, elapsed, epoch, scriptrun_time, error, custom_timers FROM results WHERE run_id = $1 ORDER BY elapsed, turret_uuid NULLS LAST',
        [run.id],
      );
      assert.equal(stored.length, 51);
      const fix = (s: string) => s.replace(/\u0000/g, '\ufffd');
      const expected = [
        ...batchRows(named).map((r) => ({ uuid: 'uuid-1', name: 'navy\tfleet <script>', ...r })),
        { uuid: null, name: null, ...batchRows(unnamed)[0]! },
      ].sort((x, y) => x.elapsed - y.elapsed || (x.uuid === null ? 1 : y.uuid === null ? -1 : 0));
      expected.forEach((e, i) => {
        const s = stored[i]!;
        assert.equal(s.turret_uuid, e.uuid);
        assert.equal(s.turret_name, e.name);
        assert.equal(s.elapsed, e.elapsed);
        assert.equal(s.epoch, e.epoch);
        assert.equal(s.scriptrun_time, e.scriptrunTime);
        assert.equal(s.error, e.error === null ? null : fix(e.error));
        const timers = Object.fromEntries(Object.entries(e.customTimers).map(([k, v]) => [fix(k), v]));
        assert.deepEqual(s.custom_timers, Object.keys(timers).length ? timers : null, `row ${i}`);
      });
      const [count] = await store.sql.query<{ n: number }>('SELECT count(*) AS n FROM results WHERE run_id = $1', [run.id]);
      assert.equal(count!.n, 51, 'count(*) comes back as a JS number');
    });

    test('aggregates: deltas come back as written, by second then in write order, per run', async () => {
      const run = await store.createRun({ name: 'aggregates', config: {}, hqId: null });
      const other = await store.createRun({ name: 'aggregates-other', config: {}, hqId: null });
      const row = (second: number, series: string, n: number, extra: Partial<AggregateRow> = {}): AggregateRow => ({
        second,
        turretUuid: 'uuid-1',
        turretName: 'navy',
        series,
        errors: 0,
        hist: { n, min: 0.001 * n, max: 0.25 + n, mean: 1 / 3 + n, m2: 1e-9 * n, b: [n, n, 3327, 2 ** 40] },
        ...extra,
      });
      const first: AggregateRow[] = [
        row(2, 'All transactions', 5, { errors: 2 }),
        row(0, 'All transactions', 1),
        // The same key twice in one write: both kept, in order.
        row(2, 'All transactions', 7),
        row(1, ODD[5]!, 2, { turretUuid: null, turretName: null }),
        row(1, 'empty', 0, { hist: { n: 0, min: 0, max: 0, mean: 0, m2: 0, b: [] } }),
        row(3, 'step \'two\' "quoted" \\ {a,b}', 3, { turretName: "o'neil\tfleet" }),
        // A request series' counters come back as written.
        row(3, 'GET /orders/:id', 4, { errors: 1, counters: { 'status:200': 3, 'status:500': 1, bytes_sent: 0, bytes_received: 2 ** 40 } }),
      ];
      const firstErrors: ErrorCountRow[] = [
        { second: 2, turretUuid: 'uuid-1', turretName: 'navy', message: 'HTTP 503', count: 1 },
        { second: 2, turretUuid: 'uuid-1', turretName: 'navy', message: ODD[5]!, count: 1 },
        { second: 0, turretUuid: null, turretName: null, message: 'NULL', count: 4 },
      ];
      await store.writeAggregates(run.id, first, firstErrors);
      await store.writeAggregates(other.id, [row(2, 'All transactions', 9)], [{ second: 2, turretUuid: null, turretName: null, message: 'x', count: 1 }]);
      // Duplicate keys across writes too, and odd texts.
      const second: AggregateRow[] = [row(2, 'All transactions', 5, { errors: 1 }), ...ODD.map((s, i) => row(4, s, i + 1, { turretName: s }))];
      const secondErrors: ErrorCountRow[] = [
        { second: 2, turretUuid: 'uuid-1', turretName: 'navy', message: 'HTTP 503', count: 3 },
        ...ODD.map((s, i) => ({ second: 4, turretUuid: 'uuid-1', turretName: 'navy', message: s, count: i + 1 })),
      ];
      await store.writeAggregates(run.id, second, secondErrors);
      await store.writeAggregates(run.id, [], []);

      const fix = (s: string) => s.replace(/\u0000/g, '\ufffd');
      const bySecond = <T extends { second: number }>(list: T[]) =>
        list
          .map((r, i) => ({ r, i }))
          .sort((x, y) => x.r.second - y.r.second || x.i - y.i)
          .map((x) => x.r);
      const expectedRows = bySecond([...first, ...second]).map((r) => ({ ...r, series: fix(r.series), turretName: r.turretName && fix(r.turretName) }));
      const expectedErrors = bySecond([...firstErrors, ...secondErrors]).map((e) => ({ ...e, message: fix(e.message) }));
      const got = await store.readAggregates(run.id);
      assert.deepEqual(got.rows, expectedRows);
      assert.deepEqual(got.errors, expectedErrors);

      const theOther = await store.readAggregates(other.id);
      assert.deepEqual(
        theOther.rows.map((r) => r.hist.n),
        [9],
      );
      assert.equal(theOther.errors.length, 1);
    });

    test('aggregates: reads page through big runs in order; floats and counts come back exact', async () => {
      const run = await store.createRun({ name: 'aggregates-big', config: {}, hqId: null });
      const full = Array.from({ length: 3328 }, (_, i) => [i, i === 3327 ? Number.MAX_SAFE_INTEGER : i + 1]).flat();
      const special = [-0, 0.1 + 0.2, Number.MIN_VALUE, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1 / 3];
      // Far more rows than a read page, many of them in one second, so a page ends inside a second.
      const rows: AggregateRow[] = Array.from({ length: 12_345 }, (_, i) => ({
        second: i < 8_000 ? 5 : Math.floor(i / 100),
        turretUuid: i % 3 ? `u${i % 3}` : null,
        turretName: i % 3 ? `t${i % 3}` : null,
        series: `s${i % 7}`,
        errors: i % 5,
        hist: {
          n: i,
          min: special[i % 8]!,
          max: special[(i + 1) % 8]!,
          mean: special[(i + 2) % 8]!,
          m2: i / 7,
          b: i === 42 ? full : i % 4 ? [i % 3000, i + 1] : [],
        },
      }));
      const errors: ErrorCountRow[] = Array.from({ length: 6_001 }, (_, i) => ({
        second: 9 - (i % 3),
        turretUuid: null,
        turretName: `t${i}`,
        message: `m${i}`,
        count: i + 1,
      }));
      await store.writeAggregates(run.id, rows.slice(0, 7_000), errors.slice(0, 3_000));
      await store.writeAggregates(run.id, rows.slice(7_000), errors.slice(3_000));
      const bySecond = <T extends { second: number }>(list: T[]) =>
        list
          .map((r, i) => ({ r, i }))
          .sort((x, y) => x.r.second - y.r.second || x.i - y.i)
          .map((x) => x.r);
      const got = await store.readAggregates(run.id);
      assert.equal(got.rows.length, rows.length);
      assert.deepEqual(got.rows, bySecond(rows));
      assert.deepEqual(got.errors, bySecond(errors));
    });

    test('aggregates: errors alone, rows alone, and a run with none', async () => {
      const run = await store.createRun({ name: 'aggregates-parts', config: {}, hqId: null });
      assert.deepEqual(await store.readAggregates(run.id), { rows: [], errors: [] });
      await store.writeAggregates(run.id, [], []);
      assert.deepEqual(await store.readAggregates(run.id), { rows: [], errors: [] });
      const errors: ErrorCountRow[] = [{ second: 7, turretUuid: 'u', turretName: 't', message: 'timeout', count: 2 }];
      await store.writeAggregates(run.id, [], errors);
      const rows: AggregateRow[] = [
        {
          second: 7,
          turretUuid: 'u',
          turretName: 't',
          series: 'All transactions',
          errors: 2,
          hist: { n: 2, min: 0.5, max: 0.75, mean: 0.625, m2: 0.03125, b: [1000, 2] },
        },
      ];
      await store.writeAggregates(run.id, rows, []);
      assert.deepEqual(await store.readAggregates(run.id), { rows, errors });
    });

    test('aggregates: a bad bucket list fails the whole write, nothing of it is stored', async () => {
      const run = await store.createRun({ name: 'aggregates-bad', config: {}, hqId: null });
      const good: AggregateRow = {
        second: 0,
        turretUuid: null,
        turretName: null,
        series: 's',
        errors: 0,
        hist: { n: 1, min: 1, max: 1, mean: 1, m2: 0, b: [5, 1] },
      };
      const bad: AggregateRow = { ...good, hist: { ...good.hist, b: [5, 0] } };
      await assert.rejects(
        store.writeAggregates(run.id, [good, bad], [{ second: 0, turretUuid: null, turretName: null, message: 'm', count: 1 }]),
        /positive integer/,
      );
      // One the database refuses, after the JS side accepted it.
      await assert.rejects(store.writeAggregates(run.id, [good], [{ second: 0, turretUuid: null, turretName: null, message: 'm', count: 1.5 }]), /bigint/);
      assert.deepEqual(await store.readAggregates(run.id), { rows: [], errors: [] });
    });

    test('sql.query returns plain rows; numeric and bigint as numbers', async () => {
      const [row] = await store.sql.query<{ a: number; b: number; c: string; d: Date }>(
        `SELECT 9007199254740991::bigint AS a, 1.5::numeric AS b, 'x' AS c, '2024-01-01T00:00:00Z'::timestamptz AS d`,
      );
      assert.equal(row!.a, 9007199254740991);
      assert.equal(row!.b, 1.5);
      assert.equal(row!.c, 'x');
      assert.ok(row!.d instanceof Date);
    });

    test('data survives close and reopen', async () => {
      const run = await store.createRun({ name: 'persist', config: { k: 1 }, hqId: null });
      await store.close();
      store = await reopen();
      assert.deepEqual((await store.getRun(run.id))?.config, { k: 1 });
    });

    test('a SQL error names the backend and the statement', async () => {
      await assert.rejects(store.sql.query('SELECT * FROM no_such_table'), (err: Error) => {
        assert.match(err.message, /no_such_table/);
        assert.equal((err as Error & { code?: string }).code, '42P01');
        return true;
      });
    });
  });
}
