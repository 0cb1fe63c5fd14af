import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { memoryLogger } from '../common/log.ts';
import { ResultBatchBuilder, type ResultRow } from '../protocol/results.ts';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.ts';
import { escapeCopyText, resultsCopyText, storableText } from './copy-text.ts';
import { openPostgresStore } from './postgres.ts';
import type { Store } from './types.ts';

// Any UTF-16 code unit, lone surrogates and NUL included: what a script's error text can hold.
const anyText = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const oddText = fc.oneof(anyText, fc.constantFrom('\\N', '\\.', '\t', '\n', '\r\n', '\\', '<script>x</script>', '"', "'"));

/** The reading half of COPY text format, as Postgres does it. */
function unescapeCopy(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' })[c] ?? c);
}

test('escaped text never contains a raw tab, newline or CR, and unescapes to the original', () => {
  fc.assert(
    fc.property(oddText, (s) => {
      const e = escapeCopyText(s);
      assert.ok(!/[\t\n\r]/.test(e));
      assert.equal(unescapeCopy(e), s);
    }),
    { numRuns: 2000 },
  );
});

test('storableText keeps well-formed text and removes only NUL and lone surrogates', () => {
  fc.assert(
    fc.property(anyText, (s) => {
      const t = storableText(s);
      assert.equal(t.length, s.length);
      assert.ok(!/\u0000/.test(t));
      assert.doesNotThrow(() => encodeURIComponent(t), 'well-formed UTF-16');
      if (!/[\u0000\ud800-\udfff]/.test(s)) assert.equal(t, s);
    }),
  );
});

test('a row of COPY text has eight fields; NaN timers are left out, none set is NULL', () => {
  const b = new ResultBatchBuilder();
  b.add({ elapsed: 1, epoch: 2, scriptrunTime: 3, error: null, customTimers: { a: 1 } });
  b.add({ elapsed: 4, epoch: 5, scriptrunTime: 6, error: 'x\ty', customTimers: {} });
  const text = resultsCopyText(7, [b.build({ turretUuid: null, turretName: 'n', seq: null })]);
  const lines = text.split('\n');
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0]!.split('\t'), ['7', '\\N', 'n', '1', '2', '3', '\\N', '{"a":1}']);
  assert.deepEqual(lines[1]!.split('\t'), ['7', '\\N', 'n', '4', '5', '6', 'x\\ty', '\\N']);
});

// Through a real server: whatever the text, Postgres accepts the COPY and gives it back.
let db: TestDatabase;
let store: Store;
before(async () => {
  db = await createTestDatabase();
  store = await openPostgresStore(db.url, memoryLogger());
  await store.migrate();
});
after(async () => {
  await store.close();
  await db.drop();
});

test('property: any error text and timer name round-trips through a real COPY', async () => {
  const fix = (s: string) => storableText(s);
  const row = fc.record({
    error: fc.option(
      oddText.filter((s) => s.length > 0),
      { nil: null },
    ),
    timers: fc.dictionary(oddText, fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 3 }),
    name: fc.option(oddText, { nil: null }),
  });
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 20 }), async (rows) => {
      const runId = ++runs;
      const c = new pg.Client({ connectionString: db.url });
      const byName = new Map<string | null, ResultRow[]>();
      rows.forEach((r, i) => {
        const list = byName.get(r.name) ?? [];
        list.push({ elapsed: i, epoch: 1, scriptrunTime: 0, error: r.error, customTimers: r.timers });
        byName.set(r.name, list);
      });
      const batches = [...byName].map(([name, list]) => {
        const b = new ResultBatchBuilder();
        list.forEach((r) => b.add(r));
        return b.build({ turretUuid: null, turretName: name, seq: null });
      });
      await store.writeResults(runId, batches);
      await c.connect();
      try {
        const { rows: stored } = await c.query('SELECT turret_name, elapsed, error, custom_timers FROM results WHERE run_id = $1 ORDER BY elapsed', [runId]);
        assert.equal(stored.length, rows.length);
        rows.forEach((r, i) => {
          const s = stored[i];
          assert.equal(s.turret_name, r.name === null ? null : fix(r.name));
          assert.equal(s.error, r.error === null ? null : fix(r.error));
          const want = Object.fromEntries(Object.entries(r.timers).map(([k, v]) => [fix(k), Object.is(v, -0) ? 0 : v]));
          assert.deepEqual(s.custom_timers, Object.keys(want).length ? want : null);
        });
      } finally {
        await c.end();
      }
    }),
    { numRuns: 60 },
  );
});
