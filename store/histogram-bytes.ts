// The stored form of a histogram's buckets (`EncodedHistogram.b`), the `buckets` bytea column:
// per non-empty bucket, two unsigned LEB128 varints, the gap to the previous bucket minus one and
// the count minus one.
//
// Why varints rather than fixed uint16 + float64 pairs: a per-second delta's buckets are mostly
// adjacent with small counts, so a pair is 2 bytes instead of 10, and the bytea crosses both
// drivers as hex text, which doubles whatever it weighs; 200k rows of a few dozen buckets each is
// tens of MB either way. The minus-ones make every decodable byte string a valid bucket list
// (ascending indices, positive counts), so only truncation and range need checking on the way back.
import { HISTOGRAM_BUCKETS } from '../protocol/histogram.ts';

const TWO_POW_7 = 128;

/** Bytes `b` ([bucket, count, ...], buckets ascending in 0..HISTOGRAM_BUCKETS-1, counts positive integers) takes. */
function encodedLength(b: readonly number[]): number {
  let len = 0;
  let prev = -1;
  for (let k = 0; k < b.length; k += 2) {
    const i = b[k]!;
    const c = b[k + 1]!;
    if (!Number.isInteger(i) || i <= prev || i >= HISTOGRAM_BUCKETS)
      throw new RangeError(`histogram bucket ${i} is not ascending in 0..${HISTOGRAM_BUCKETS - 1}`);
    if (!Number.isSafeInteger(c) || c <= 0) throw new RangeError(`histogram bucket ${i}: count ${c} is not a positive integer`);
    len += varintLength(i - prev - 1) + varintLength(c - 1);
    prev = i;
  }
  return len;
}

function varintLength(v: number): number {
  let n = 1;
  while (v >= TWO_POW_7) {
    v = Math.floor(v / TWO_POW_7);
    n++;
  }
  return n;
}

/** Writes v (a safe non-negative integer) at `off`; returns the offset after it. */
function putVarint(out: Uint8Array, off: number, v: number): number {
  // Bit operations only below 2^31: counts may reach 2^53.
  while (v >= TWO_POW_7) {
    out[off++] = (v % TWO_POW_7) | 0x80;
    v = Math.floor(v / TWO_POW_7);
  }
  out[off++] = v;
  return off;
}

/** Throws a RangeError for a bucket list no histogram produces (see histogramProblem). */
export function encodeBuckets(b: readonly number[]): Buffer {
  if (b.length % 2 !== 0) throw new RangeError('histogram buckets must be [bucket, count, ...] pairs');
  const out = Buffer.allocUnsafe(encodedLength(b));
  let off = 0;
  let prev = -1;
  for (let k = 0; k < b.length; k += 2) {
    const i = b[k]!;
    off = putVarint(out, off, i - prev - 1);
    off = putVarint(out, off, b[k + 1]! - 1);
    prev = i;
  }
  return out;
}

/** The inverse of encodeBuckets; throws on bytes it cannot have written. */
export function decodeBuckets(bytes: Uint8Array): number[] {
  const end = bytes.length;
  // Each varint ends on a byte below 0x80: counting them sizes the array up front, which measured
  // 2-3x faster than pushing (a report decodes millions of pairs), and proves the last pair whole,
  // so the loop below never reads past the end.
  let varints = 0;
  for (let k = 0; k < end; k++) varints += (bytes[k]! >>> 7) ^ 1;
  if (varints % 2 !== 0 || (end && bytes[end - 1]! & 0x80)) throw new RangeError('stored histogram buckets are truncated');
  const b: number[] = new Array(varints);
  let off = 0;
  let prev = -1;
  for (let w = 0; w < varints; w += 2) {
    let byte = bytes[off++]!;
    let gap = byte & 0x7f;
    for (let scale = TWO_POW_7; byte & 0x80; scale *= TWO_POW_7) {
      byte = bytes[off++]!;
      gap += (byte & 0x7f) * scale;
    }
    byte = bytes[off++]!;
    let count = byte & 0x7f;
    for (let scale = TWO_POW_7; byte & 0x80; scale *= TWO_POW_7) {
      byte = bytes[off++]!;
      count += (byte & 0x7f) * scale;
    }
    prev += gap + 1;
    if (prev >= HISTOGRAM_BUCKETS) throw new RangeError(`stored histogram bucket ${prev} is beyond ${HISTOGRAM_BUCKETS - 1}`);
    if (count >= Number.MAX_SAFE_INTEGER) throw new RangeError('stored histogram count is beyond 2^53');
    b[w] = prev;
    b[w + 1] = count + 1;
  }
  return b;
}
