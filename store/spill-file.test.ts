import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { memoryLogger } from '../common/log.ts';
import { batchRows, ResultBatchBuilder, type ResultBatch } from '../protocol/results.ts';
import { decodePayload, encodeFrame, readSpillFile, SpillFile } from './spill-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'oct-spill-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function batch(from: number, n: number, name: string | null = 'navy'): ResultBatch {
  const b = new ResultBatchBuilder();
  for (let i = from; i < from + n; i++) {
    b.add({ elapsed: i, epoch: 1e9 + i, scriptrunTime: i / 1000, error: i % 4 ? null : `err ${i % 8}\n\\`, customTimers: i % 3 ? {} : { 't\t1': i } });
  }
  return b.build({ turretUuid: 'u', turretName: name, seq: from });
}

const anyRow = fc.record({
  elapsed: fc.double(),
  epoch: fc.double(),
  scriptrunTime: fc.double(),
  error: fc.option(fc.string({ minLength: 1 }), { nil: null }),
  customTimers: fc.dictionary(fc.string(), fc.double({ noNaN: true })),
});

test('property: a frame decodes to the batch it encoded', () => {
  fc.assert(
    fc.property(fc.array(anyRow, { maxLength: 30 }), fc.option(fc.string(), { nil: null }), fc.integer({ min: 1, max: 1e9 }), (rows, name, runId) => {
      const b = new ResultBatchBuilder();
      rows.forEach((r) => b.add(r));
      const original = b.build({ turretUuid: 'u-1', turretName: name, seq: 3 });
      const frame = encodeFrame({ runId, at: 123, batch: original });
      assert.equal(frame.readUInt32LE(0), frame.length - 4);
      const back = decodePayload(frame.subarray(4));
      assert.equal(back.runId, runId);
      assert.equal(back.at, 123);
      assert.equal(back.batch.turretName, name);
      assert.equal(back.batch.seq, 3);
      assert.deepEqual(batchRows(back.batch), batchRows(original));
    }),
  );
});

test('entries come back oldest first, across partial takes and file resets', async () => {
  const spill = new SpillFile(join(dir, 'order.spill'), memoryLogger());
  let next = 0;
  let seen = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) {
      spill.append({ runId: 1, at: round, batch: batch(next, 50) });
      next += 50;
    }
    assert.equal(spill.rows, 1000);
    await spill.settle();
    while (spill.rows > 0) {
      const got = await spill.take(120);
      assert.ok(got.length >= 1 && got.reduce((n, e) => n + e.batch.count, 0) <= 120);
      for (const e of got) {
        assert.equal(e.batch.elapsed[0], seen);
        seen += e.batch.count;
      }
    }
    await spill.settle();
    // Emptied: the file starts over instead of growing.
    assert.equal(statSync(spill.path).size, 8);
  }
  assert.equal(seen, next);
  await spill.close();
  assert.equal(existsSync(spill.path), false, 'an empty spill file is removed on close');
});

test('a take right after append reads from memory while the write is still queued', async () => {
  const spill = new SpillFile(join(dir, 'fast.spill'), memoryLogger());
  spill.append({ runId: 1, at: 0, batch: batch(0, 10) });
  const [e] = await spill.take(1_000);
  assert.equal(e!.batch.count, 10);
  await spill.close();
});

test('readSpillFile recovers what was left in a spill file', async () => {
  const path = join(dir, 'left.spill');
  const spill = new SpillFile(path, memoryLogger());
  for (let i = 0; i < 5; i++) spill.append({ runId: 9, at: i, batch: batch(i * 10, 10, i % 2 ? null : 'n') });
  await spill.take(10); // the first batch was written; four remain in the file
  await spill.close();
  const back = [];
  for await (const e of readSpillFile(path)) back.push(e);
  // The file keeps every frame (the reader knows nothing of what was taken): callers recover from
  // the writer's recovery file, which holds only what was left.
  assert.equal(back.length, 5);
  assert.deepEqual(
    back.map((e) => e.batch.turretName),
    ['n', null, 'n', null, 'n'],
  );
  assert.ok(back.every((e) => e.runId === 9));
  await assert.rejects(async () => {
    for await (const _ of readSpillFile(join(dir, 'missing.spill'))) void _;
  }, /ENOENT/);
});
