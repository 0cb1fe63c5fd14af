// Properties of the latency histogram (protocol/histogram.ts): merging is exact and independent of
// order and grouping, every percentile is within the documented error of the exact value for
// distributions chosen to be hard, the bucket layout is consistent over every bucket, cumulative
// counts are exact up to the bucket of the bound, and `histogramProblem` accepts what `encode()`
// writes and refuses every kind of forged or broken histogram.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  bucketBounds,
  bucketOf,
  type EncodedHistogram,
  HISTOGRAM_BUCKETS,
  HISTOGRAM_PRECISION,
  histogramProblem,
  LatencyHistogram,
  MAX_LATENCY_SECONDS,
  MAX_MICROS,
  mergeEncoded,
  PERCENTILE_RELATIVE_ERROR,
  toMicros,
} from './histogram.ts';

const RUNS = { numRuns: 150 };
const HOUR = 3600;

// --- value generators (seconds) ---

/** Log-uniform from 1 µs to 1 h: every order of magnitude equally likely. */
const logUniform = fc.double({ min: -6, max: Math.log10(HOUR), noNaN: true }).map((e) => 10 ** e);
/** Whole microseconds, as a turret's clock often gives them. */
const wholeMicros = fc.integer({ min: 0, max: HOUR * 1e6 }).map((u) => u / 1e6);
/** A value exactly at a bucket's low or high edge, or half a microsecond either side (the rounding edges). */
const bucketEdge = fc.tuple(fc.integer({ min: 0, max: HISTOGRAM_BUCKETS - 1 }), fc.constantFrom(0, 1, 2, 3)).map(([i, kind]) => {
  const { low, width } = bucketBounds(i);
  const micros = [low, low + width - 1, low - 0.5, low + width - 0.5][kind]!;
  return Math.max(0, micros) / 1e6;
});
const special = fc.constantFrom(0, 1e-9, 4.9e-7, 5e-7, 1e-6, 0.001, 0.1, 1, 10, HOUR);
const latency = fc.oneof(logUniform, wholeMicros, bucketEdge, special, fc.double({ min: 0, max: HOUR, noNaN: true }));

/**
 * Arrays of 1..maxLength: fast-check's default size keeps arrays to a few dozen elements whatever
 * maxLength says, so half the time the length is drawn over the whole range instead.
 */
function list<T>(arb: fc.Arbitrary<T>, maxLength: number, minLength = 1): fc.Arbitrary<T[]> {
  return fc.oneof(fc.array(arb, { minLength, maxLength }), fc.array(arb, { minLength, maxLength, size: 'max' }));
}
const values = (maxLength = 2000) => list(latency, maxLength);

/** 1 ms and 10 s, exact or with a few percent of jitter, in random proportions. */
const bimodal = list(fc.tuple(fc.boolean(), fc.oneof(fc.constant(0), fc.double({ min: -0.05, max: 0.05, noNaN: true }))), 5000).map((xs) =>
  xs.map(([slow, jitter]) => (slow ? 10 : 0.001) * (1 + jitter)),
);
/** Pareto: xm / U^(1/α); small α is a very heavy tail. Capped at an hour, inside the histogram's range. */
const pareto = fc
  .record({
    alpha: fc.double({ min: 0.2, max: 3, noNaN: true }),
    xm: fc.double({ min: 1e-5, max: 0.1, noNaN: true }),
    us: list(fc.double({ min: Number.EPSILON, max: 1, noNaN: true }), 5000),
  })
  .map(({ alpha, xm, us }) => us.map((u) => Math.min(HOUR, xm / u ** (1 / alpha))));
const allEqual = fc.tuple(latency, fc.integer({ min: 1, max: 5000 })).map(([v, n]) => new Array<number>(n).fill(v));
const single = latency.map((v) => [v]);
const spanning = list(logUniform, 5000).map((xs) => [1e-6, HOUR, ...xs]);
const edges = list(bucketEdge, 3000);
const zeros = fc.oneof(
  fc.integer({ min: 1, max: 3000 }).map((n) => new Array<number>(n).fill(0)),
  list(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(1e-7), latency), 3000),
);

const distributions: [string, fc.Arbitrary<number[]>][] = [
  ['bimodal 1 ms / 10 s', bimodal],
  ['heavy tail (Pareto)', pareto],
  ['all values equal', allEqual],
  ['a single value', single],
  ['1 µs to 1 h', spanning],
  ['values at bucket edges', edges],
  ['zeros', zeros],
  ['mixed', values(5000)],
];

// --- helpers ---

function histogramOf(xs: readonly number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const x of xs) h.record(x);
  return h;
}

/** Small deterministic PRNG (mulberry32), so merge trees derive from one shrinkable seed. */
function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A standard deviation is only as exact as x − mean is: computed in floats, two orders of summation
 * differ by up to about n·ε·|mean| however small the deviation (1 + 2⁻⁵² and 1 have a stdev of
 * 1.1e-16 one way and 0 the other); and squared deviations below ~1e-154 s are subnormal, with
 * fewer digits (values of 1e-158 s are fast-check's, not a clock's). Within 1e-9 relative, or those floors.
 */
function stdevClose(a: number, b: number, n: number, mean: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(a, b) + 4 * n * Number.EPSILON * Math.abs(mean) + Math.sqrt(n * Number.MIN_VALUE);
}

/** Within `rel` relative; subnormal floats (below 2.2e-308 s, from fast-check, not a clock) have fewer digits, hence 1e-300. */
function relClose(a: number, b: number, rel = 1e-9): boolean {
  return a === b || Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-300;
}

/** The rank percentile() uses: ceil(p·n), with 1e-9 of tolerance so that 0.07·100 (7.000000000000001 in floats) is rank 7. */
function rankOf(p: number, n: number): number {
  return Math.max(1, Math.ceil(p * n - 1e-9));
}

type Way = 'add' | 'addEncoded' | 'from' | 'json' | 'mixed';

/** Merges parts in a random tree (random pairs, either direction) using one way of merging, or a random one per step. */
function mergeTree(parts: LatencyHistogram[], seed: number, way: Way): LatencyHistogram {
  const rand = prng(seed);
  const list = [...parts];
  if (list.length === 0) return new LatencyHistogram();
  while (list.length > 1) {
    const i = Math.floor(rand() * list.length);
    let j = Math.floor(rand() * (list.length - 1));
    if (j >= i) j++;
    let [a, b] = [list[i]!, list[j]!];
    if (rand() < 0.5) [a, b] = [b, a];
    const w = way === 'mixed' ? (['add', 'addEncoded', 'from', 'json'] as const)[Math.floor(rand() * 4)]! : way;
    if (w === 'add') a.add(b);
    else if (w === 'addEncoded') a.addEncoded(b.encode());
    else if (w === 'from') {
      const copy = LatencyHistogram.from(a.encode());
      copy.addEncoded(b.encode());
      a = copy;
    } else a.addEncoded(JSON.parse(JSON.stringify(b.encode())) as EncodedHistogram);
    list.splice(Math.max(i, j), 1);
    list.splice(Math.min(i, j), 1, a);
  }
  return list[0]!;
}

const PS = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1];

function assertSameHistogram(actual: LatencyHistogram, expected: LatencyHistogram, extraPs: number[] = []): void {
  const a = actual.encode();
  const e = expected.encode();
  // Counts, buckets, count, min and max are exact: identical encodings but for the float moments.
  assert.deepEqual({ n: a.n, min: a.min, max: a.max, b: a.b }, { n: e.n, min: e.min, max: e.max, b: e.b });
  assert.equal(actual.count, expected.count);
  assert.equal(actual.min, expected.min);
  assert.equal(actual.max, expected.max);
  // Mean and m2 are merged with Chan's formula: the same up to rounding, whatever the order.
  assert.ok(relClose(actual.mean, expected.mean), `mean ${actual.mean} vs ${expected.mean}`);
  assert.ok(stdevClose(actual.stdev, expected.stdev, expected.count, expected.mean), `stdev ${actual.stdev} vs ${expected.stdev}`);
  for (const p of [...PS, ...extraPs]) assert.equal(actual.percentile(p), expected.percentile(p), `p=${p}`);
  assert.deepEqual(actual.buckets(), expected.buckets());
}

// --- merging ---

test('merging random partitions in random trees, by add, addEncoded, from and JSON, equals recording everything in one', () => {
  fc.assert(
    fc.property(
      list(fc.tuple(latency, fc.nat({ max: 9 })), 3000, 0),
      fc.integer(),
      fc.constantFrom<Way>('add', 'addEncoded', 'from', 'json', 'mixed'),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (tagged, seed, way, p) => {
        const all = histogramOf(tagged.map(([v]) => v));
        const groups = Array.from({ length: 10 }, () => new LatencyHistogram());
        for (const [v, g] of tagged) groups[g]!.record(v);
        const merged = mergeTree(groups, seed, way);
        assertSameHistogram(merged, all, [p]);
      },
    ),
    RUNS,
  );
});

test('the order values are recorded in does not change the histogram', () => {
  fc.assert(
    fc.property(values(3000), fc.integer(), (xs, seed) => {
      const rand = prng(seed);
      const shuffled = [...xs];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      assertSameHistogram(histogramOf(shuffled), histogramOf(xs));
      assertSameHistogram(histogramOf([...xs].reverse()), histogramOf(xs));
    }),
    RUNS,
  );
});

test('merging empty histograms, and into an empty one, changes nothing', () => {
  fc.assert(
    fc.property(values(500), (xs) => {
      const h = histogramOf(xs);
      const before = h.encode();
      h.add(new LatencyHistogram());
      h.addEncoded(new LatencyHistogram().encode());
      assert.deepEqual(h.encode(), before);
      const into = new LatencyHistogram();
      into.add(h);
      assertSameHistogram(into, h);
      assertSameHistogram(LatencyHistogram.from(h.encode()), h);
    }),
    RUNS,
  );
});

test('a reset histogram records as a fresh one', () => {
  fc.assert(
    fc.property(values(500), values(500), (first, second) => {
      const h = histogramOf(first);
      h.reset();
      assert.deepEqual(h.encode(), new LatencyHistogram().encode());
      assert.equal(h.percentile(0.5), null);
      for (const x of second) h.record(x);
      assert.deepEqual(h.encode(), histogramOf(second).encode());
    }),
    RUNS,
  );
});

test('moments are exact: count, min and max as recorded, mean and population stdev to 1e-9', () => {
  fc.assert(
    fc.property(values(3000), (xs) => {
      const h = histogramOf(xs);
      const n = xs.length;
      const mean = xs.reduce((a, x) => a + x, 0) / n;
      const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / n);
      assert.equal(h.count, n);
      assert.equal(h.min, Math.min(...xs));
      assert.equal(h.max, Math.max(...xs));
      assert.ok(relClose(h.mean, mean), `mean ${h.mean} vs ${mean}`);
      // Two-pass vs Welford: a spread tiny against the mean cancels differently (see stdevClose).
      assert.ok(stdevClose(h.stdev, sd, n, mean), `stdev ${h.stdev} vs ${sd}`);
    }),
    RUNS,
  );
});

test('NaN and negative values are not recorded', () => {
  const h = histogramOf([Number.NaN, -1, -1e-9, Number.NEGATIVE_INFINITY]);
  assert.equal(h.count, 0);
  assert.equal(h.percentile(0.5), null);
  assert.deepEqual(h.encode(), { n: 0, min: 0, max: 0, mean: 0, m2: 0, b: [] });
  h.record(0.25);
  assert.equal(h.count, 1);
  assert.equal(h.percentile(0.5), 0.25);
});

// --- percentiles ---

/** |h − x| ≤ x·PERCENTILE_RELATIVE_ERROR + 0.5 µs, plus float slack, for x the exact value at the rank. */
function assertPercentilesWithinBound(xs: readonly number[], extraPs: readonly number[]): void {
  const h = histogramOf(xs);
  const sorted = Float64Array.from(xs).sort();
  const n = sorted.length;
  let previous = -Infinity;
  for (const p of [0, 0.5, 0.9, 0.95, 0.99, 0.999, ...extraPs]) {
    const x = sorted[rankOf(p, n) - 1]!;
    const got = h.percentile(p)!;
    const bound = x * PERCENTILE_RELATIVE_ERROR + 0.5e-6 + 1e-12 * (1 + x);
    assert.ok(Math.abs(got - x) <= bound, `p=${p} n=${n}: ${got} vs exact ${x} (error ${Math.abs(got - x)}, bound ${bound})`);
    assert.ok(got >= sorted[0]! && got <= sorted[n - 1]!, `p=${p}: ${got} outside [min, max]`);
  }
  for (const p of [...PS, ...extraPs].sort((a, b) => a - b)) {
    const got = h.percentile(p)!;
    assert.ok(got >= previous, `percentiles not monotone at p=${p}`);
    previous = got;
  }
  assert.equal(h.percentile(1), sorted[n - 1], 'p=1 is the maximum, exactly');
}

for (const [name, arb] of distributions) {
  test(`percentiles are within ${PERCENTILE_RELATIVE_ERROR} relative + 0.5 µs of the exact value: ${name}`, () => {
    fc.assert(
      fc.property(arb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }), (xs, ps) => assertPercentilesWithinBound(xs, ps)),
      { numRuns: 100 },
    );
  });
}

test('percentile examples: a single value, two values, the bimodal 1 ms / 10 s split', () => {
  const one = histogramOf([0.0123]);
  for (const p of PS) assert.equal(one.percentile(p), 0.0123);
  const xs = [...new Array<number>(990).fill(0.001), ...new Array<number>(10).fill(10)];
  const h = histogramOf(xs);
  assert.ok(Math.abs(h.percentile(0.99)! - 0.001) <= 0.001 * PERCENTILE_RELATIVE_ERROR + 0.5e-6);
  // Rank 991 is the first 10 s value: its bucket's midpoint (clamped to the max), not the max itself.
  assert.ok(Math.abs(h.percentile(0.991)! - 10) <= 10 * PERCENTILE_RELATIVE_ERROR);
  assert.ok(h.percentile(0.991)! <= 10);
  assert.equal(h.percentile(1), 10);
});

test('the rank is ceil(p·n) of the decimal p: 0.07 of 100 values is the 7th, though 0.07 * 100 is 7.000000000000001 in floats', () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  const h = histogramOf(xs);
  for (const p of [0.07, 0.14, 0.28, 0.55, 0.57, 0.29, 0.5, 0.9, 0.99]) {
    const k = Math.round(p * 100);
    assert.ok(Math.abs(h.percentile(p)! - k) <= k * PERCENTILE_RELATIVE_ERROR, `p=${p}: ${h.percentile(p)} is not the ${k}th value`);
  }
});

// --- bucket layout ---

test('bucketOf and bucketBounds agree on every bucket: contiguous, monotone, width at most 1/128 of the low edge', () => {
  assert.equal(HISTOGRAM_BUCKETS, (1 << HISTOGRAM_PRECISION) * (33 - HISTOGRAM_PRECISION));
  let nextLow = 0;
  for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
    const { low, width } = bucketBounds(i);
    assert.equal(low, nextLow, `bucket ${i} starts where bucket ${i - 1} ends`);
    assert.ok(Number.isInteger(width) && width >= 1 && (width & (width - 1)) === 0, `bucket ${i}: width ${width} is a power of two`);
    if (i < 1 << HISTOGRAM_PRECISION) assert.equal(width, 1, `bucket ${i} below 128 µs is exact`);
    else assert.ok(width <= low / (1 << HISTOGRAM_PRECISION), `bucket ${i}: width ${width} > low ${low} / 128`);
    // The midpoint rule's error is then at most width/2 ≤ low/256 = low·PERCENTILE_RELATIVE_ERROR.
    assert.ok((width - 1) / 2 + 0.5 <= Math.max(0.5, low * PERCENTILE_RELATIVE_ERROR));
    assert.equal(bucketOf(low), i, `bucketOf(low of ${i})`);
    assert.equal(bucketOf(low + width - 1), i, `bucketOf(high of ${i})`);
    if (low > 0) assert.equal(bucketOf(low - 1), i - 1, `bucketOf(low of ${i} − 1)`);
    nextLow = low + width;
  }
  assert.equal(nextLow - 1, MAX_MICROS, 'the last bucket ends at MAX_MICROS');
  assert.equal(bucketOf(MAX_MICROS), HISTOGRAM_BUCKETS - 1);
});

test('every microsecond value falls in the bucket whose bounds contain it; bucketOf is monotone', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX_MICROS }), fc.integer({ min: 0, max: MAX_MICROS }), (u, v) => {
      const { low, width } = bucketBounds(bucketOf(u));
      assert.ok(low <= u && u < low + width, `${u} not in [${low}, ${low + width})`);
      if (u <= v) assert.ok(bucketOf(u) <= bucketOf(v));
    }),
    { numRuns: 2000 },
  );
});

test('toMicros rounds to whole microseconds, clamps to 0..MAX_MICROS and is monotone', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true }), fc.double({ noNaN: true }), (a, b) => {
      const u = toMicros(a);
      assert.ok(Number.isInteger(u) && u >= 0 && u <= MAX_MICROS);
      if (a >= 0 && a * 1e6 < MAX_MICROS) assert.ok(Math.abs(u - a * 1e6) <= 0.5 + 1e-6 * a);
      if (a <= b) assert.ok(u <= toMicros(b));
    }),
    { numRuns: 1000 },
  );
  assert.equal(toMicros(Number.POSITIVE_INFINITY), MAX_MICROS);
  assert.equal(toMicros(MAX_LATENCY_SECONDS), MAX_MICROS);
  assert.equal(toMicros(-0), 0);
});

// --- cumulative counts ---

// The histogram only knows which bucket a value fell in, not where in it. A bound inside a bucket
// therefore counts the whole of that bucket as ≤ the bound: the count is exact up to the values
// above the bound that share its bucket (at most 1/128 of the bound away, or in the same whole
// microsecond below 128 µs). Values ≤ the bound are never missed: rounding and bucketing are monotone.
test('cumulativeAt counts the values ≤ each bound, plus exactly those above it in the bound’s own bucket', () => {
  const prometheus = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Number.POSITIVE_INFINITY];
  fc.assert(
    fc.property(values(3000), fc.array(fc.oneof(latency, fc.constantFrom(...prometheus), fc.constant(-1)), { maxLength: 30 }), (xs, extra) => {
      const h = histogramOf(xs);
      const bounds = [...prometheus, ...extra].sort((a, b) => a - b);
      const got = h.cumulativeAt(bounds);
      const bucket = (x: number) => bucketOf(toMicros(x));
      bounds.forEach((bound, k) => {
        const exact = xs.filter((x) => x <= bound).length;
        const sameBucketAbove = xs.filter((x) => x > bound && bucket(x) === bucket(bound)).length;
        assert.equal(got[k], exact + sameBucketAbove, `bound ${bound}`);
        assert.ok(got[k]! >= exact);
        if (k > 0) assert.ok(got[k]! >= got[k - 1]!);
      });
      if (bounds.length) assert.equal(got[bounds.length - 1], xs.length, '+Inf counts everything');
    }),
    RUNS,
  );
  assert.deepEqual([...new LatencyHistogram().cumulativeAt([0.1, 1])], [0, 0]);
});

// --- validating encoded histograms from the network ---

/** Histograms as turrets send them: up to a day (values past MAX_MICROS share the last bucket). */
const wireValues = list(fc.oneof(latency, fc.double({ min: 0, max: MAX_LATENCY_SECONDS, noNaN: true })), 2000);

test('histogramProblem accepts every encode() of a recorded histogram, and its JSON, and from() reads it back', () => {
  fc.assert(
    fc.property(fc.oneof(wireValues, fc.constant([])), (xs) => {
      const e = histogramOf(xs).encode();
      assert.equal(histogramProblem(e), null);
      const wire = JSON.parse(JSON.stringify(e)) as EncodedHistogram;
      assert.equal(histogramProblem(wire), null);
      const back = LatencyHistogram.from(wire).encode();
      assert.deepEqual({ n: back.n, min: back.min, max: back.max, b: back.b }, { n: e.n, min: e.min, max: e.max, b: e.b });
    }),
    RUNS,
  );
});

type Mutation = { name: string; reason: RegExp; apply: (e: EncodedHistogram, r: number) => unknown };

const pairs = (e: EncodedHistogram) => e.b.length / 2;
const pick = (e: EncodedHistogram, r: number) => Math.min(pairs(e) - 1, Math.floor(r * pairs(e)));
const badNumbers = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, -1e-9, '1', null, undefined, true, [1], {}];
const badNumber = (r: number) => badNumbers[Math.floor(r * badNumbers.length)];
/** Applies a change to a histogram and returns it. */
function change(e: EncodedHistogram, edit: () => void): EncodedHistogram {
  edit();
  return e;
}

const mutations: Mutation[] = [
  {
    name: 'negative count',
    reason: /count -\d+ must be a positive integer/,
    apply: (e, r) =>
      change(e, () => {
        e.b[2 * pick(e, r) + 1]! *= -1;
      }),
  },
  {
    name: 'fractional count',
    reason: /count \d+\.5 must be a positive integer/,
    apply: (e, r) =>
      change(e, () => {
        e.b[2 * pick(e, r) + 1]! += 0.5;
      }),
  },
  {
    name: 'zero count',
    reason: /count 0 must be a positive integer/,
    apply: (e, r) =>
      change(e, () => {
        e.b[2 * pick(e, r) + 1] = 0;
      }),
  },
  {
    name: 'count of the wrong type',
    reason: /count .* must be a positive integer/,
    apply: (e, r) =>
      change(e, () => {
        e.b[2 * pick(e, r) + 1] = badNumber(r) as number;
      }),
  },
  {
    name: 'bucket past the last',
    reason: /bucket \d+ is not ascending in 0\.\.3327/,
    apply: (e, r) =>
      change(e, () => {
        e.b[e.b.length - 2] = HISTOGRAM_BUCKETS + Math.floor(r * 1e6);
      }),
  },
  {
    name: 'negative bucket',
    reason: /bucket -\d+ is not ascending/,
    apply: (e, r) =>
      change(e, () => {
        e.b[0] = -1 - Math.floor(r * 10);
      }),
  },
  {
    name: 'fractional bucket',
    reason: /bucket \d+\.5 is not ascending/,
    apply: (e, r) =>
      change(e, () => {
        e.b[2 * pick(e, r)]! += 0.5;
      }),
  },
  {
    name: 'bucket of the wrong type',
    reason: /bucket .* is not ascending/,
    apply: (e, r) =>
      change(e, () => {
        e.b[2 * pick(e, r)] = badNumber(r) as number;
      }),
  },
  {
    name: 'buckets not ascending',
    reason: /bucket \d+ is not ascending/,
    apply: (e, r) => {
      if (pairs(e) < 2) return null;
      const k = Math.min(pairs(e) - 2, Math.floor(r * (pairs(e) - 1)));
      const [i, c, j, d] = e.b.slice(2 * k, 2 * k + 4);
      e.b.splice(2 * k, 4, j!, d!, i!, c!);
      return e;
    },
  },
  {
    name: 'bucket twice',
    reason: /bucket \d+ is not ascending/,
    apply: (e, r) => {
      const k = pick(e, r);
      e.b.splice(2 * k, 0, e.b[2 * k]!, 1);
      e.n += 1;
      return e;
    },
  },
  {
    name: 'counts add up to more than n',
    reason: /bucket counts add up to \d+, "n" says \d+/,
    apply: (e, r) => (e.n > 1 ? change(e, () => (e.n -= 1 + Math.floor(r * (e.n - 1)))) : null),
  },
  {
    name: 'counts add up to less than n',
    reason: /bucket counts add up to \d+, "n" says \d+/,
    apply: (e, r) =>
      change(e, () => {
        e.n += 1 + Math.floor(r * 1000);
      }),
  },
  {
    name: 'n of the wrong type',
    reason: /"n" must be a non-negative integer/,
    apply: (e, r) =>
      change(e, () => {
        e.n = [-1, 1.5, Number.NaN, '3', null, 1e13, Number.POSITIVE_INFINITY][Math.floor(r * 7)] as number;
      }),
  },
  ...(['min', 'max', 'mean', 'm2'] as const).map(
    (key): Mutation => ({
      name: `"${key}" not a finite number ≥ 0`,
      reason: new RegExp(`"${key}" must be a finite number ≥ 0`),
      apply: (e, r) =>
        change(e, () => {
          e[key] = badNumber(r) as number;
        }),
    }),
  ),
  {
    name: 'mean above max',
    reason: /"mean" must lie between "min" and "max"/,
    apply: (e, r) =>
      change(e, () => {
        e.mean = e.max * (1.001 + r) + 1e-6;
      }),
  },
  {
    name: 'mean below min',
    reason: /"mean" must lie between "min" and "max"/,
    apply: (e, r) => {
      // Below by more than the check's rounding slack, 1e-9 of max (at least 1e-9 s).
      const mean = e.min * (0.99 - r * 0.9) - 2e-9 * Math.max(1, e.max) - 1e-6;
      return mean >= 0 ? change(e, () => (e.mean = mean)) : null;
    },
  },
  {
    name: 'min above max',
    reason: /"mean" must lie between "min" and "max"/,
    apply: (e, r) =>
      change(e, () => {
        e.min = e.max + 1e-3 + r;
      }),
  },
  {
    name: 'min below its first bucket',
    reason: /"min" is not in the first bucket/,
    apply: (e, r) => {
      if (e.b[0]! < 2) return null;
      e.min = bucketBounds(Math.floor(r * (e.b[0]! - 1))).low / 1e6;
      return e;
    },
  },
  {
    name: 'min above its first bucket',
    reason: /"min" is not in the first bucket/,
    apply: (e) => {
      const { low, width } = bucketBounds(e.b[0]!);
      const min = (low + width + 1) / 1e6;
      // Past MAX_MICROS every value is in the last bucket: no min is above it.
      if (min > e.mean || min > e.max || low + width + 1 > MAX_MICROS) return null;
      e.min = min;
      return e;
    },
  },
  {
    name: 'max above its last bucket',
    reason: /"max" is not in the last bucket/,
    apply: (e, r) => {
      const last = e.b[e.b.length - 2]!;
      if (last + 2 > HISTOGRAM_BUCKETS - 1) return null;
      e.max = bucketBounds(last + 2 + Math.floor(r * (HISTOGRAM_BUCKETS - 2 - last))).low / 1e6;
      return e;
    },
  },
  {
    name: 'max below its last bucket',
    reason: /"max" is not in the last bucket/,
    apply: (e) => {
      const { low } = bucketBounds(e.b[e.b.length - 2]!);
      const max = (low - 2) / 1e6;
      if (max < e.mean + 1e-9 * Math.max(1, max) || max < e.min) return null;
      e.max = max;
      return e;
    },
  },
  {
    name: 'max beyond a day',
    reason: /"max" \S+ s is beyond 86400 s/,
    apply: (e, r) =>
      change(e, () => {
        e.max = MAX_LATENCY_SECONDS * (1 + r) + 0.001;
      }),
  },
  { name: 'odd-length b', reason: /"b" must be \[bucket, count, \.\.\.\] pairs/, apply: (e, r) => change(e, () => (r < 0.5 ? e.b.push(1) : e.b.pop())) },
  {
    name: 'b not an array',
    reason: /"b" must be \[bucket, count, \.\.\.\] pairs/,
    apply: (e, r) => ({ ...e, b: [null, 'x', {}, { length: 2, 0: 1, 1: 1 }, 5, undefined][Math.floor(r * 6)] }),
  },
  {
    name: 'empty histogram with buckets',
    reason: /an empty histogram has no buckets/,
    apply: (e) =>
      change(e, () => {
        e.n = 0;
      }),
  },
];

test('histogramProblem refuses every kind of broken histogram, naming what is wrong', () => {
  fc.assert(
    fc.property(wireValues, fc.constantFrom(...mutations), fc.double({ min: 0, max: 0.999999, noNaN: true }), (xs, m, r) => {
      const forged = m.apply(histogramOf(xs).encode(), r);
      fc.pre(forged !== null);
      const problem = histogramProblem(forged);
      assert.ok(problem !== null, `${m.name} accepted: ${JSON.stringify(forged)?.slice(0, 300)}`);
      assert.match(problem, m.reason, `${m.name}`);
    }),
    { numRuns: 600 },
  );
});

test('histogramProblem refuses values of the wrong type, and a hand-made forgery of each kind', () => {
  for (const v of [null, undefined, 5, 'x', true]) assert.equal(histogramProblem(v), 'histogram must be an object');
  assert.match(histogramProblem([])!, /"n"/);
  assert.match(histogramProblem({})!, /"n"/);
  const base = histogramOf([0.001, 0.002, 0.5]).encode();
  assert.equal(histogramProblem(base), null);
  assert.match(histogramProblem({ ...base, min: 0.0015 })!, /"min" is not in the first bucket/);
  assert.match(histogramProblem({ ...base, min: 0.0005 })!, /"min" is not in the first bucket/);
  assert.match(histogramProblem({ ...base, max: 0.6 })!, /"max" is not in the last bucket/);
  assert.match(histogramProblem({ ...base, max: 0.4 })!, /"max" is not in the last bucket/);
  assert.match(histogramProblem({ ...base, b: [...base.b.slice(2), ...base.b.slice(0, 2)] })!, /not ascending/);
  assert.match(histogramProblem({ ...base, b: [0, 3] })!, /"min" is not in the first bucket/);
  // A day and more: the last bucket holds everything past MAX_MICROS, up to the one-day limit.
  const long = histogramOf([5000, MAX_LATENCY_SECONDS]).encode();
  assert.equal(histogramProblem(long), null);
  assert.match(histogramProblem({ ...long, max: MAX_LATENCY_SECONDS + 1 })!, /beyond 86400/);
});

/** Every [parent, key] slot of a JSON value, depth first. */
function slots(v: unknown, out: [Record<string | number, unknown>, string | number][] = []) {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) {
      const key = Array.isArray(v) ? Number(k) : k;
      out.push([v as Record<string | number, unknown>, key]);
      slots((v as Record<string, unknown>)[k], out);
    }
  }
  return out;
}

test('histogramProblem never throws, and whatever it accepts is a histogram from() can read', () => {
  const check = (v: unknown) => {
    const problem = histogramProblem(v);
    if (problem !== null) {
      assert.equal(typeof problem, 'string');
      return;
    }
    const e = v as EncodedHistogram;
    const h = LatencyHistogram.from(e);
    // === and JSON: an accepted -0 (a bucket, n) is a 0.
    assert.ok(h.count === e.n);
    assert.deepEqual(h.encode().b, JSON.parse(JSON.stringify(e.b)));
    if (e.n > 0) {
      for (const p of PS) {
        const got = h.percentile(p)!;
        assert.ok(got >= e.min && got <= e.max, `p=${p}: ${got} outside [${e.min}, ${e.max}]`);
      }
    }
  };
  fc.assert(fc.property(fc.anything(), check), { numRuns: 300 });
  fc.assert(
    fc.property(
      wireValues,
      fc.array(fc.tuple(fc.nat(), fc.oneof(fc.jsonValue(), fc.integer({ min: -2, max: HISTOGRAM_BUCKETS + 2 }), fc.double()), fc.boolean()), {
        minLength: 1,
        maxLength: 4,
      }),
      (xs, edits) => {
        const e = histogramOf(xs).encode() as unknown as Record<string, unknown>;
        for (const [at, value, remove] of edits) {
          const all = slots(e);
          const [parent, key] = all[at % all.length]!;
          if (remove && !Array.isArray(parent)) delete parent[key];
          else parent[key] = structuredClone(value); // fast-check's values are reused when shrinking: never mutate them
        }
        check(e);
      },
    ),
    { numRuns: 300 },
  );
});

test('mergeEncoded of two encodings equals the encoding of the merged histogram', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 3600, noNaN: true }), { maxLength: 500 }),
      fc.array(fc.double({ min: 0, max: 3600, noNaN: true }), { maxLength: 500 }),
      (xs, ys) => {
        const a = new LatencyHistogram();
        const b = new LatencyHistogram();
        for (const v of xs) a.record(v);
        for (const v of ys) b.record(v);
        const merged = mergeEncoded(a.encode(), b.encode());
        a.add(b);
        const whole = a.encode();
        assert.deepEqual(merged.b, whole.b);
        assert.equal(merged.n, whole.n);
        if (whole.n) {
          assert.equal(merged.min, whole.min);
          assert.equal(merged.max, whole.max);
          assert.ok(Math.abs(merged.mean - whole.mean) <= 1e-9 * Math.max(1, whole.mean));
          assert.ok(Math.abs(merged.m2 - whole.m2) <= 1e-9 * Math.max(1, whole.m2));
        }
      },
    ),
    { numRuns: 150 },
  );
});
