// The one latency histogram of oct: turrets record into it, the HQ merges it, the store keeps it and
// the report reads percentiles from it. Log-linear buckets over whole microseconds, as HDR
// Histogram's: values below 128 µs have a bucket each; above, each power of two is cut into 128
// equal buckets, so a bucket is at most 1/128 of its lower bound wide. The value reported for a
// rank is its bucket's midpoint, clamped to the exact minimum and maximum: within 0.4% (+0.5 µs of
// rounding) of the recorded value at that rank, for any distribution. Merging adds counts, so it is
// exact and independent of order and grouping.
//
// Own format rather than hdr-histogram-js's: a sparse list of (bucket, count) pairs is what a
// per-second delta is (a few hundred buckets), merges in time proportional to it, is checked
// bucket by bucket when it comes from the network, and takes ten lines to write in any language
// (docs/protocol.md).
//
// Moments ride along: the exact count, minimum, maximum, mean and sum of squared deviations, merged
// with Chan's formula, so means and standard deviations are exact, not bucket-rounded.

/** log2 of the buckets per power of two. Part of the wire format: a message with another is refused. */
export const HISTOGRAM_PRECISION = 7;
const SUB = 1 << HISTOGRAM_PRECISION;
/** Values are clamped to this many microseconds (about 71.6 minutes); moments keep the true value. */
export const MAX_MICROS = 2 ** 32 - 1;
/** Number of buckets: 128 exact ones, then 128 per power of two from 2^7 to 2^31 µs. */
export const HISTOGRAM_BUCKETS = SUB + (32 - HISTOGRAM_PRECISION) * SUB;
/** The relative error bound of a percentile, documented and tested. */
export const PERCENTILE_RELATIVE_ERROR = 1 / (2 * SUB);

export function bucketOf(micros: number): number {
  if (micros < SUB) return micros;
  const e = 31 - Math.clz32(micros);
  return SUB + (e - HISTOGRAM_PRECISION) * SUB + ((micros >>> (e - HISTOGRAM_PRECISION)) - SUB);
}

/** Lowest microsecond value of a bucket, and its width. */
export function bucketBounds(index: number): { low: number; width: number } {
  if (index < SUB) return { low: index, width: 1 };
  const k = index - SUB;
  const shift = Math.floor(k / SUB);
  const width = 2 ** shift;
  return { low: (SUB + (k % SUB)) * width, width };
}

export function toMicros(seconds: number): number {
  const u = Math.round(seconds * 1e6);
  return u <= 0 ? 0 : u >= MAX_MICROS ? MAX_MICROS : u;
}

/** The sparse, serialisable form: moments plus [bucket, count, bucket, count, ...], buckets ascending. */
export interface EncodedHistogram {
  n: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  b: number[];
}

export class LatencyHistogram {
  count = 0;
  /** Seconds, exact. */
  min = Infinity;
  max = -Infinity;
  mean = 0;
  /** Sum of squared deviations from the mean (Welford / Chan). */
  m2 = 0;
  private counts: Float64Array | null = null;
  private lowest = HISTOGRAM_BUCKETS;
  private highest = -1;

  /** Records one value in seconds. NaN and negative values are not data (an unset timer, clock noise). */
  record(seconds: number): void {
    if (!(seconds >= 0)) return;
    const i = bucketOf(toMicros(seconds));
    const counts = (this.counts ??= new Float64Array(HISTOGRAM_BUCKETS));
    counts[i]!++;
    if (i < this.lowest) this.lowest = i;
    if (i > this.highest) this.highest = i;
    const n = ++this.count;
    const d = seconds - this.mean;
    this.mean += d / n;
    this.m2 += d * (seconds - this.mean);
    if (seconds < this.min) this.min = seconds;
    if (seconds > this.max) this.max = seconds;
  }

  add(other: LatencyHistogram): void {
    if (other.count === 0) return;
    this.addMoments(other.count, other.min, other.max, other.mean, other.m2);
    const src = other.counts!;
    const counts = (this.counts ??= new Float64Array(HISTOGRAM_BUCKETS));
    for (let i = other.lowest; i <= other.highest; i++) counts[i]! += src[i]!;
    if (other.lowest < this.lowest) this.lowest = other.lowest;
    if (other.highest > this.highest) this.highest = other.highest;
  }

  /** Merges an encoded histogram that `decodeHistogram` (or this process) produced. */
  addEncoded(e: EncodedHistogram): void {
    if (e.n === 0) return;
    this.addMoments(e.n, e.min, e.max, e.mean, e.m2);
    const counts = (this.counts ??= new Float64Array(HISTOGRAM_BUCKETS));
    const b = e.b;
    for (let k = 0; k < b.length; k += 2) counts[b[k]!]! += b[k + 1]!;
    if (b.length) {
      if (b[0]! < this.lowest) this.lowest = b[0]!;
      if (b[b.length - 2]! > this.highest) this.highest = b[b.length - 2]!;
    }
  }

  private addMoments(n: number, min: number, max: number, mean: number, m2: number): void {
    const total = this.count + n;
    const d = mean - this.mean;
    this.mean += (d * n) / total;
    this.m2 += m2 + (d * d * this.count * n) / total;
    this.count = total;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  /** Population standard deviation, seconds (as numpy.std and the original report). */
  get stdev(): number {
    return this.count ? Math.sqrt(Math.max(0, this.m2 / this.count)) : 0;
  }

  /**
   * The value at rank ceil(p·n) (p in 0..1), seconds: its bucket's midpoint clamped to [min, max].
   * null when empty.
   */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(p * this.count - 1e-9));
    if (rank >= this.count) return this.max;
    const counts = this.counts!;
    let seen = 0;
    for (let i = this.lowest; i <= this.highest; i++) {
      seen += counts[i]!;
      if (seen >= rank) {
        const { low, width } = bucketBounds(i);
        const mid = (low + (width - 1) / 2) / 1e6;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  /** Counts of values ≤ each bound (seconds, ascending), as a Prometheus histogram wants them. */
  cumulativeAt(bounds: ArrayLike<number>): Float64Array {
    const out = new Float64Array(bounds.length);
    if (this.count === 0) return out;
    const counts = this.counts!;
    let i = this.lowest;
    let seen = 0;
    for (let k = 0; k < bounds.length; k++) {
      const limit = bucketOf(toMicros(bounds[k]!));
      for (; i <= this.highest && i <= limit; i++) seen += counts[i]!;
      out[k] = seen;
    }
    return out;
  }

  /** Non-empty buckets as [lowSeconds, highSeconds, count], ascending, for display. */
  buckets(): [number, number, number][] {
    const out: [number, number, number][] = [];
    if (!this.counts) return out;
    for (let i = this.lowest; i <= this.highest; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      const { low, width } = bucketBounds(i);
      out.push([low / 1e6, (low + width) / 1e6, c]);
    }
    return out;
  }

  encode(): EncodedHistogram {
    const b: number[] = [];
    if (this.counts) for (let i = this.lowest; i <= this.highest; i++) if (this.counts[i]! > 0) b.push(i, this.counts[i]!);
    return { n: this.count, min: this.count ? this.min : 0, max: this.count ? this.max : 0, mean: this.mean, m2: this.m2, b };
  }

  static from(e: EncodedHistogram): LatencyHistogram {
    const h = new LatencyHistogram();
    h.addEncoded(e);
    return h;
  }

  reset(): void {
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.mean = 0;
    this.m2 = 0;
    if (this.counts && this.highest >= 0) this.counts.fill(0, this.lowest, this.highest + 1);
    this.lowest = HISTOGRAM_BUCKETS;
    this.highest = -1;
  }
}

/**
 * Two encoded histograms merged without a dense array: the bucket lists are merged in order, in
 * time proportional to their length (the HQ merges a turret's deltas of one second this way, once
 * a second, for every turret and series).
 */
export function mergeEncoded(a: EncodedHistogram, b: EncodedHistogram): EncodedHistogram {
  if (b.n === 0) return a;
  if (a.n === 0) return b;
  const n = a.n + b.n;
  const d = b.mean - a.mean;
  const out: number[] = [];
  const x = a.b;
  const y = b.b;
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (j >= y.length || (i < x.length && x[i]! < y[j]!)) {
      out.push(x[i]!, x[i + 1]!);
      i += 2;
    } else if (i >= x.length || y[j]! < x[i]!) {
      out.push(y[j]!, y[j + 1]!);
      j += 2;
    } else {
      out.push(x[i]!, x[i + 1]! + y[j + 1]!);
      i += 2;
      j += 2;
    }
  }
  return { n, min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), mean: a.mean + (d * b.n) / n, m2: a.m2 + b.m2 + (d * d * a.n * b.n) / n, b: out };
}

// For messages about values from the network: String() throws on {"toString": 0}.
function show(v: unknown): string {
  return (JSON.stringify(v) ?? 'undefined').slice(0, 40);
}

/** Longest latency a histogram message may claim, seconds: a day. Anything longer is forged or broken. */
export const MAX_LATENCY_SECONDS = 86_400;
const MAX_COUNT = 1e12;

/**
 * Checks an encoded histogram from outside (a turret, the store): every field typed and in range,
 * buckets ascending and known, counts positive integers adding up to `n`, moments consistent.
 * Returns the reason it is refused, or null.
 */
export function histogramProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'histogram must be an object';
  const h = v as Record<string, unknown>;
  const { n, min, max, mean, m2, b } = h;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_COUNT) return '"n" must be a non-negative integer';
  if (!Array.isArray(b) || b.length % 2 !== 0) return '"b" must be [bucket, count, ...] pairs';
  for (const [k, x] of [
    ['min', min],
    ['max', max],
    ['mean', mean],
    ['m2', m2],
  ] as const) {
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) return `"${k}" must be a finite number ≥ 0`;
  }
  const lo = min as number;
  const hi = max as number;
  const avg = mean as number;
  if (hi > MAX_LATENCY_SECONDS) return `"max" ${hi} s is beyond ${MAX_LATENCY_SECONDS} s`;
  if (n === 0) return b.length === 0 ? null : 'an empty histogram has no buckets';
  const slack = 1e-9 * Math.max(1, hi);
  if (lo > hi || avg < lo - slack || avg > hi + slack) return '"mean" must lie between "min" and "max"';
  let total = 0;
  let prev = -1;
  for (let k = 0; k < b.length; k += 2) {
    const i = b[k];
    const c = b[k + 1];
    if (typeof i !== 'number' || !Number.isInteger(i) || i <= prev || i >= HISTOGRAM_BUCKETS)
      return `bucket ${show(i)} is not ascending in 0..${HISTOGRAM_BUCKETS - 1}`;
    if (typeof c !== 'number' || !Number.isInteger(c) || c <= 0) return `bucket ${i}: count ${show(c)} must be a positive integer`;
    prev = i;
    total += c;
  }
  if (total !== n) return `bucket counts add up to ${total}, "n" says ${n}`;
  const first = bucketBounds(b[0] as number);
  const last = bucketBounds(b[b.length - 2] as number);
  // The extremes must fall in the first and last buckets (±1 µs of rounding), or min/max are forged.
  if (toMicros(lo) + 1 < first.low || toMicros(lo) > first.low + first.width) return '"min" is not in the first bucket';
  if (toMicros(hi) + 1 < last.low || (toMicros(hi) > last.low + last.width && toMicros(hi) < MAX_MICROS)) return '"max" is not in the last bucket';
  return null;
}
