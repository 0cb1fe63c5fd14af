import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HISTOGRAM_BUCKETS, LatencyHistogram } from '../protocol/histogram.ts';
import { decodeBuckets, encodeBuckets } from './histogram-bytes.ts';

// Any valid bucket list: distinct ascending indices over the whole range, counts up to 2^53 - 1.
const bucketList = fc.uniqueArray(fc.integer({ min: 0, max: HISTOGRAM_BUCKETS - 1 }), { maxLength: 400 }).chain((indices) =>
  fc
    .array(fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), {
      minLength: indices.length,
      maxLength: indices.length,
    })
    .map((counts) => indices.sort((a, b) => a - b).flatMap((i, k) => [i, counts[k]!])),
);

test('any bucket list round-trips exactly', () => {
  fc.assert(
    fc.property(bucketList, (b) => {
      assert.deepEqual(decodeBuckets(encodeBuckets(b)), b);
    }),
    { numRuns: 1000 },
  );
});

test('edges: empty, first and last bucket, varint boundaries of gaps and counts', () => {
  const cases = [
    [],
    [0, 1],
    [HISTOGRAM_BUCKETS - 1, 1],
    [0, 128, 128, 129, 257, 2 ** 14, 3000, 2 ** 32, HISTOGRAM_BUCKETS - 1, Number.MAX_SAFE_INTEGER],
    [5, 127, 6, 2 ** 31, 7, 2 ** 31 + 1],
  ];
  for (const b of cases) assert.deepEqual(decodeBuckets(encodeBuckets(b)), b);
  assert.equal(encodeBuckets([]).length, 0);
  // Bucket 0 with a count of 1 is one zero gap and one zero count.
  assert.deepEqual([...encodeBuckets([0, 1])], [0, 0]);
});

test('a real delta is two bytes a bucket: adjacent buckets with small counts', () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 5000; i++) h.record(0.02 + (i % 97) * 1e-4);
  const { b } = h.encode();
  const bytes = encodeBuckets(b);
  assert.deepEqual(decodeBuckets(bytes), b);
  assert.ok(bytes.length <= b.length + 8, `${bytes.length} bytes for ${b.length / 2} buckets`);
});

test('decodes from a plain Uint8Array (PGlite) as from a Buffer (pg)', () => {
  const b = [3, 9, 200, 1, 201, 70_000];
  const buf = encodeBuckets(b);
  assert.deepEqual(decodeBuckets(new Uint8Array(buf)), b);
  assert.deepEqual(decodeBuckets(buf.subarray(0)), b);
});

test('refuses bucket lists no histogram produces', () => {
  for (const [b, re] of [
    [[1], /pairs/],
    [[5, 1, 5, 1], /ascending/],
    [[6, 1, 5, 1], /ascending/],
    [[-1, 1], /ascending/],
    [[HISTOGRAM_BUCKETS, 1], /ascending/],
    [[1.5, 1], /ascending/],
    [[1, 0], /positive integer/],
    [[1, 2.5], /positive integer/],
    [[1, Number.NaN], /positive integer/],
    [[1, 2 ** 53], /positive integer/],
  ] as const) {
    assert.throws(() => encodeBuckets(b as unknown as number[]), re, JSON.stringify(b));
  }
});

test('refuses bytes it cannot have written', () => {
  assert.throws(() => decodeBuckets(Uint8Array.from([0])), /truncated/);
  assert.throws(() => decodeBuckets(Uint8Array.from([0x80])), /truncated/);
  assert.throws(() => decodeBuckets(Uint8Array.from([0, 0x80])), /truncated/);
  // A gap past the last bucket.
  const far = encodeBuckets([HISTOGRAM_BUCKETS - 1, 1]);
  assert.throws(() => decodeBuckets(Buffer.concat([far, Uint8Array.from([0, 0])])), /beyond/);
});
