// The aggregate message (protocol/aggregate.ts): what a DeltaBuilder hands over survives
// encodeAggregate → JSON → parseAggregate unchanged, the caps on timer series and error texts fold
// the excess into one name, and parseAggregate refuses hostile messages with a reason naming the
// field, never throws, and never lets through data that breaks its own invariants.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  type AggregateMessage,
  DeltaBuilder,
  encodeAggregate,
  MAX_ERROR_MESSAGES,
  MAX_TIMER_SERIES,
  OTHER_ERRORS,
  OTHER_SERIES,
  type ParsedAggregate,
  parseAggregate,
  type SecondDelta,
} from './aggregate.ts';
import { HISTOGRAM_BUCKETS, HISTOGRAM_PRECISION, histogramProblem, LatencyHistogram, MAX_LATENCY_SECONDS } from './histogram.ts';
import { ALL_TRANSACTIONS_SERIES, INTENDED_LATENCY_SERIES, ResultBatchBuilder, type ResultRow } from './results.ts';

const ALL = ALL_TRANSACTIONS_SERIES;

// --- helpers ---

function roundTrip(m: AggregateMessage): ParsedAggregate {
  return parseAggregate(JSON.parse(encodeAggregate(m)) as Record<string, unknown>);
}

/** parseAggregate on anything at all: a throw fails the test with the input. */
function parse(v: unknown): ParsedAggregate {
  try {
    return parseAggregate(v as Record<string, unknown>);
  } catch (err) {
    assert.fail(`parseAggregate threw ${String(err)} on ${JSON.stringify(v)?.slice(0, 400)}`);
  }
}

function refused(v: unknown, reason: RegExp): void {
  const r = parse(v);
  assert.equal(r.ok, false, `accepted: ${JSON.stringify(v)?.slice(0, 300)}`);
  if (r.ok) return;
  assert.equal(typeof r.reason, 'string');
  assert.match(r.reason, /^aggregate: /);
  assert.match(r.reason, reason);
}

const relClose = (a: number, b: number) => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
const seriesOf = (sec: SecondDelta, name: string) => sec.series.find((d) => d.name === name);
const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** Everything parseAggregate promises of what it accepts. */
function assertConsistent(m: AggregateMessage): void {
  assert.ok(typeof m.uuid === 'string' && m.uuid !== '' && m.uuid.length <= 500);
  assert.equal(typeof m.turret, 'string');
  assert.ok(Number.isInteger(m.seq) && m.seq >= 1);
  assert.ok(Array.isArray(m.seconds) && m.seconds.length <= 3600);
  for (const sec of m.seconds) {
    assert.ok(Number.isInteger(sec.second) && sec.second >= 0 && sec.second <= 10_000_000);
    assert.equal(new Set(sec.series.map((d) => d.name)).size, sec.series.length, 'series names unique in a second');
    for (const d of sec.series) {
      assert.ok(typeof d.name === 'string' && d.name !== '' && d.name.length <= 500);
      assert.equal(histogramProblem(d.hist), null);
      assert.deepEqual(Object.keys(d.hist).sort(), ['b', 'm2', 'max', 'mean', 'min', 'n'], 'no stray fields in a histogram');
      assert.ok(Number.isInteger(d.errors) && d.errors >= 0 && d.errors <= d.hist.n);
      const h = LatencyHistogram.from(d.hist);
      assert.ok(h.count === d.hist.n);
      const p = h.percentile(0.99);
      if (d.hist.n > 0) assert.ok(p !== null && p >= d.hist.min && p <= d.hist.max);
    }
    let total = 0;
    for (const [message, count] of sec.errors) {
      assert.ok(typeof message === 'string' && message !== '' && message.length <= 2000);
      assert.ok(Number.isInteger(count) && count > 0);
      total += count;
    }
    // === rather than Object.is: an "e" of -0 is a 0 (JSON.parse gives -0 for "-0").
    assert.ok(total === (seriesOf(sec, ALL)?.errors ?? 0), 'errors by message add up to the All-transactions errors');
  }
  // What was accepted encodes and parses again to itself.
  const again = roundTrip(m);
  assert.ok(again.ok, again.ok ? '' : again.reason);
  // JSON has no -0: what went in as "-0" comes back as 0, harmlessly; compare as JSON sees it.
  if (again.ok) assert.deepEqual(again.message, JSON.parse(JSON.stringify(m)));
}

// --- generators ---

const latency = fc.oneof(
  fc.double({ min: -6, max: 3.5, noNaN: true }).map((e) => 10 ** e),
  fc.integer({ min: 0, max: 5_000_000 }).map((u) => u / 1e6),
  fc.constantFrom(0, 1e-6, 0.001, 1, 10, 5000, MAX_LATENCY_SECONDS, 2 * MAX_LATENCY_SECONDS),
);
const timerName = fc.oneof(
  fc.constantFrom('login', 'search', 'checkout', INTENDED_LATENCY_SERIES, 'x'.repeat(500)),
  fc.string({ minLength: 1, maxLength: 20 }),
);
const errorText = fc.oneof(fc.constantFrom('HTTP 503', 'timeout', 'ECONNRESET', 'x'.repeat(2500)), fc.string({ minLength: 1, maxLength: 30 }));

/** A canon's result, as oct's turret records it: times ≥ 0, a failure with a non-empty text. */
const turretRow: fc.Arbitrary<ResultRow> = fc.record({
  elapsed: fc.oneof(fc.double({ min: 0, max: 20, noNaN: true }), fc.integer({ min: 0, max: 20 })),
  epoch: fc.constant(1_700_000_000),
  scriptrunTime: latency,
  error: fc.option(errorText, { freq: 3 }),
  customTimers: fc.dictionary(timerName, latency, { maxKeys: 4 }),
});

const rows = (row: fc.Arbitrary<ResultRow>) => fc.oneof(fc.array(row, { maxLength: 40 }), fc.array(row, { maxLength: 400, size: 'max' }));

/**
 * An independent count of what the deltas must say, per second: transactions, failures, errors by
 * text (the first MAX_ERROR_MESSAGES texts of a second, the rest under OTHER_ERRORS) and values per
 * series (the first MAX_TIMER_SERIES timer names of the run, the rest, and reserved names, under OTHER_SERIES;
 * the latency from the intended start is oct's own series, outside the cap).
 */
function model(rs: ResultRow[]) {
  const out = new Map<number, { n: number; e: number; errors: Map<string, number>; series: Map<string, { n: number; e: number }> }>();
  const known = new Set<string>();
  const fold = (name: string) => {
    if (name === ALL || name === OTHER_SERIES || name === '' || name.length > 500) return OTHER_SERIES;
    if (name === INTENDED_LATENCY_SERIES) return name;
    if (!known.has(name) && known.size >= MAX_TIMER_SERIES) return OTHER_SERIES;
    known.add(name);
    return name;
  };
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const r of rs) {
    const s = Math.min(10_000_000, Math.max(0, Math.floor(r.elapsed)));
    let m = out.get(s);
    if (!m) out.set(s, (m = { n: 0, e: 0, errors: new Map(), series: new Map() }));
    const failed = r.error !== null;
    m.n++;
    if (r.error !== null) {
      m.e++;
      const text = r.error.slice(0, 2000);
      bump(m.errors, m.errors.has(text) || m.errors.size < MAX_ERROR_MESSAGES ? text : OTHER_ERRORS);
    }
    for (const name in r.customTimers) {
      const folded = fold(name);
      if (!(r.customTimers[name]! >= 0)) continue;
      const d = m.series.get(folded) ?? { n: 0, e: 0 };
      m.series.set(folded, { n: d.n + 1, e: d.e + (failed ? 1 : 0) });
    }
  }
  return out;
}

function messageOf(seconds: SecondDelta[], seq = 1): AggregateMessage {
  return { uuid: 'turret-uuid-1', turret: 'turret-1', seq, seconds };
}

// --- round trips ---

test('DeltaBuilder deltas survive encodeAggregate → JSON.parse → parseAggregate unchanged, and count what was recorded', () => {
  fc.assert(
    fc.property(rows(turretRow), fc.integer({ min: 1, max: 2 ** 40 }), (rs, seq) => {
      const b = new DeltaBuilder();
      for (const r of rs) b.record(r.elapsed, r.scriptrunTime, r.error, r.customTimers);
      assert.equal(b.empty, rs.length === 0);
      const seconds = b.take();
      assert.ok(b.empty);
      assert.deepEqual(b.take(), []);
      const parsed = roundTrip(messageOf(seconds, seq));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      if (!parsed.ok) return;
      assert.deepEqual(parsed.message, messageOf(seconds, seq));
      assertConsistent(parsed.message);
      // Against an independent count.
      const expected = model(rs);
      assert.deepEqual(
        seconds.map((s) => s.second),
        [...expected.keys()].sort((x, y) => x - y),
      );
      for (const sec of seconds) {
        const m = expected.get(sec.second)!;
        const all = seriesOf(sec, ALL)!;
        assert.equal(all.hist.n, m.n);
        assert.equal(all.errors, m.e);
        assert.deepEqual(new Map(sec.errors), m.errors);
        assert.deepEqual(new Map(sec.series.filter((d) => d.name !== ALL).map((d) => [d.name, { n: d.hist.n, e: d.errors }])), m.series);
        for (const d of sec.series) assert.ok(d.hist.max <= MAX_LATENCY_SECONDS, 'latencies are clamped to a day');
      }
    }),
    { numRuns: 150 },
  );
});

test('recordBatch builds the same deltas as record, row by row', () => {
  fc.assert(
    fc.property(rows(turretRow), (rs) => {
      const one = new DeltaBuilder();
      for (const r of rs) one.record(r.elapsed, r.scriptrunTime, r.error, r.customTimers);
      const builder = new ResultBatchBuilder();
      for (const r of rs) builder.add(r);
      const batched = new DeltaBuilder();
      batched.recordBatch(builder.build({ turretUuid: null, turretName: null, seq: null }));
      const norm = (xs: SecondDelta[]) => xs.map((s) => ({ ...s, series: byName(s.series), errors: [...s.errors].sort() }));
      const a = norm(one.take());
      const b = norm(batched.take());
      // Counts, buckets and extremes are exact. The moments are too but for rounding: two names folded into
      // "other" in one row are recorded column by column in a batch, so in another order.
      const exact = (xs: SecondDelta[]) => xs.map((s) => ({ ...s, series: s.series.map((d) => ({ ...d, hist: { ...d.hist, mean: 0, m2: 0 } })) }));
      assert.deepEqual(exact(b), exact(a));
      a.forEach((s, k) =>
        s.series.forEach((d, j) => {
          const other = b[k]!.series[j]!.hist;
          // The stdev to 1e-9, or to the float floor of a spread tiny against the mean (histogram.test.ts: stdevClose).
          const [sa, sb] = [Math.sqrt(other.m2 / other.n), Math.sqrt(d.hist.m2 / d.hist.n)];
          const floor = 4 * d.hist.n * Number.EPSILON * d.hist.mean + Math.sqrt(d.hist.n * Number.MIN_VALUE);
          assert.ok(relClose(other.mean, d.hist.mean) && Math.abs(sa - sb) <= 1e-9 * Math.max(sa, sb) + floor, d.name);
        }),
      );
    }),
    { numRuns: 100 },
  );
});

/**
 * A legacy turret's results, as parseIncoming lets them through to the HQ's DeltaBuilder: any
 * finite times (a stepped clock gives negative ones), a failure with a non-empty text, timers
 * finite or unset.
 */
const legacyRow: fc.Arbitrary<ResultRow> = fc.record({
  elapsed: fc.oneof(fc.double({ min: -5, max: 30, noNaN: true }), fc.double({ noNaN: true, noDefaultInfinity: true })),
  epoch: fc.constant(1_453_731_738),
  scriptrunTime: fc.oneof(latency, fc.double({ min: -1, max: 0, noNaN: true }), fc.double({ noNaN: true, noDefaultInfinity: true })),
  error: fc.option(errorText, { freq: 2 }),
  customTimers: fc.dictionary(timerName, fc.oneof(latency, fc.double({ noNaN: true, noDefaultInfinity: true })), { maxKeys: 3 }),
});

test('the HQ’s own deltas of legacy results keep the invariants it demands of turrets', () => {
  fc.assert(
    fc.property(fc.array(legacyRow, { maxLength: 200 }), (rs) => {
      const builder = new ResultBatchBuilder();
      for (const r of rs) builder.add(r);
      const b = new DeltaBuilder();
      b.recordBatch(builder.build({ turretUuid: null, turretName: 'legacy', seq: null }));
      const seconds = b.take();
      const parsed = roundTrip(messageOf(seconds));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      if (parsed.ok) assertConsistent(parsed.message);
    }),
    { numRuns: 200 },
  );
});

// --- caps ---

test(`custom timers beyond MAX_TIMER_SERIES (${MAX_TIMER_SERIES}) fold into "${OTHER_SERIES}", for the whole run`, () => {
  const b = new DeltaBuilder();
  const names = Array.from({ length: 150 }, (_, i) => `timer ${i}`);
  for (let t = 0; t < 3; t++) b.record(1.5, 0.01, null, Object.fromEntries(names.map((n, i) => [n, 0.001 * (i + 1)])));
  const [sec] = b.take();
  assert.ok(sec);
  assert.equal(sec.series.length, 1 + MAX_TIMER_SERIES + 1);
  for (const n of names.slice(0, MAX_TIMER_SERIES)) assert.equal(seriesOf(sec, n)?.hist.n, 3, n);
  for (const n of names.slice(MAX_TIMER_SERIES)) assert.equal(seriesOf(sec, n), undefined, n);
  const other = seriesOf(sec, OTHER_SERIES)!;
  assert.equal(other.hist.n, 3 * 50);
  assert.equal(other.hist.min, 0.001 * 101);
  assert.ok(roundTrip(messageOf([sec])).ok);
  // The cap is per run, not per take(): a new name later still folds, a known one does not.
  b.record(2.5, 0.01, null, { 'timer 3': 0.5, 'a new name': 0.5 });
  const [later] = b.take();
  assert.deepEqual(
    byName(later!.series).map((d) => d.name),
    [ALL, OTHER_SERIES, 'timer 3'],
  );
});

test('the latency from the intended start is not a custom timer: it never folds into "other", whatever the cap', () => {
  // The canon adds it after the script's own timers, so a script with 100 timers used to push it past the cap.
  const b = new DeltaBuilder();
  const own = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`url ${i}`, 0.001]));
  b.record(0.5, 0.2, null, { ...own, [INTENDED_LATENCY_SERIES]: 0.25 });
  const [sec] = b.take();
  assert.ok(sec);
  assert.equal(seriesOf(sec, INTENDED_LATENCY_SERIES)?.hist.n, 1);
  assert.equal(seriesOf(sec, INTENDED_LATENCY_SERIES)?.hist.max, 0.25);
  assert.equal(seriesOf(sec, OTHER_SERIES)?.hist.n, 20);
  assert.equal(sec.series.length, 1 + MAX_TIMER_SERIES + 1 + 1);
  assert.ok(roundTrip(messageOf([sec])).ok, 'All transactions, the intended latency, other and 100 timers fit in a message');
  const small = new DeltaBuilder(0);
  small.record(0.5, 0.2, null, { mine: 1, [INTENDED_LATENCY_SERIES]: 0.25 });
  assert.deepEqual(
    byName(small.take()[0]!.series).map((d) => d.name),
    [ALL, INTENDED_LATENCY_SERIES, OTHER_SERIES],
  );
});

test('reserved, empty and oversized timer names fold into "other"; the cap can be set lower', () => {
  const b = new DeltaBuilder(2);
  b.record(0, 0.01, 'boom', { [ALL]: 1, [OTHER_SERIES]: 2, '': 3, ['y'.repeat(501)]: 4, a: 5, b: 6, c: 7, negative: -1, nan: Number.NaN });
  const [sec] = b.take();
  assert.ok(sec);
  // Folded: "All transactions", "other", "", the 501-character name, and "c" past the cap of 2; not recorded: -1 and NaN.
  assert.deepEqual(
    byName(sec.series).map((d) => [d.name, d.hist.n, d.errors]),
    [
      [ALL, 1, 1],
      ['a', 1, 1],
      ['b', 1, 1],
      [OTHER_SERIES, 5, 5],
    ],
  );
  assert.equal(seriesOf(sec, ALL)!.hist.max, 0.01, 'a timer named like All transactions does not land in it');
  assert.ok(roundTrip(messageOf([sec])).ok);
});

test(`error texts beyond MAX_ERROR_MESSAGES (${MAX_ERROR_MESSAGES}) per second fold into "${OTHER_ERRORS}"; long texts are cut`, () => {
  const b = new DeltaBuilder();
  for (let i = 0; i < 150; i++) b.record(3.2, 0.01, `error ${i}`, null);
  b.record(3.9, 0.01, 'error 7', null); // known text: its own count, past the cap
  b.record(3.9, 0.01, 'error 149', null); // folded text: folded again
  const long = 'z'.repeat(2000);
  b.record(4, 0.01, `${long}A`, null);
  b.record(4, 0.01, `${long}B`, null);
  const [s3, s4] = b.take();
  assert.ok(s3 && s4);
  const errors = new Map(s3.errors);
  assert.equal(errors.size, MAX_ERROR_MESSAGES + 1);
  assert.equal(errors.get('error 7'), 2);
  assert.equal(errors.get('error 99'), 1);
  assert.equal(errors.get('error 100'), undefined);
  assert.equal(errors.get(OTHER_ERRORS), 51);
  assert.equal(seriesOf(s3, ALL)!.errors, 152);
  // The next second has its own budget, and texts longer than 2000 characters share their first 2000.
  assert.deepEqual(s4.errors, [[long, 2]]);
  const parsed = roundTrip(messageOf([s3, s4]));
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  if (parsed.ok) assertConsistent(parsed.message);
});

// --- hostile messages ---

/** A valid message on the wire: two seconds, All transactions with errors, a custom timer. */
function wire(): Record<string, unknown> {
  const b = new DeltaBuilder();
  for (let i = 0; i < 50; i++) b.record(i % 2 === 0 ? 4.5 : 5.5, 0.001 * (i + 1), i % 7 === 0 ? 'HTTP 503' : null, { login: 0.0005 * (i + 1) });
  return JSON.parse(encodeAggregate(messageOf(b.take(), 42))) as Record<string, unknown>;
}

type Wire = {
  v: unknown;
  precision: unknown;
  uuid: unknown;
  seq: unknown;
  seconds: { s: unknown; series: Record<string, unknown>[]; errors: unknown[] }[];
  [k: string]: unknown;
};
function hostile(change: (w: Wire) => unknown): unknown {
  const w = wire() as Wire;
  const out = change(w);
  return out === undefined ? w : out;
}

test('the valid base message is accepted', () => {
  const r = parse(wire());
  assert.ok(r.ok, r.ok ? '' : r.reason);
  if (!r.ok) return;
  assertConsistent(r.message);
  assert.equal(r.message.seq, 42);
  assert.equal(r.message.seconds.length, 2);
  const s4 = r.message.seconds[0]!;
  assert.equal(seriesOf(s4, ALL)!.hist.n, 25);
  assert.equal(seriesOf(s4, ALL)!.errors, 4);
  assert.deepEqual(s4.errors, [['HTTP 503', 4]]);
});

const cases: [string, (w: Wire) => unknown, RegExp][] = [
  // envelope
  ['v: 2', (w) => void (w.v = 2), /unsupported version 2/],
  ['v: "1"', (w) => void (w.v = '1'), /unsupported version "1"/],
  ['v missing', (w) => void delete w.v, /unsupported version undefined/],
  ['v: null', (w) => void (w.v = null), /unsupported version null/],
  ['precision: 6', (w) => void (w.precision = HISTOGRAM_PRECISION - 1), /histogram precision 6, expected 7/],
  ['precision: "7"', (w) => void (w.precision = '7'), /histogram precision "7"/],
  ['precision missing', (w) => void delete w.precision, /histogram precision/],
  ['uuid missing', (w) => void delete w.uuid, /"uuid" must be a non-empty string/],
  ['uuid empty', (w) => void (w.uuid = ''), /"uuid"/],
  ['uuid a number', (w) => void (w.uuid = 7), /"uuid"/],
  ['uuid of 501 characters', (w) => void (w.uuid = 'u'.repeat(501)), /"uuid"/],
  ['seq 0', (w) => void (w.seq = 0), /"seq" must be a positive integer/],
  ['seq negative', (w) => void (w.seq = -3), /"seq"/],
  ['seq fractional', (w) => void (w.seq = 1.5), /"seq"/],
  ['seq a string', (w) => void (w.seq = '42'), /"seq"/],
  ['seq NaN-ish null', (w) => void (w.seq = null), /"seq"/],
  ['seq missing', (w) => void delete w.seq, /"seq"/],
  ['seconds an object', (w) => void (w.seconds = {} as never), /"seconds" must be an array of at most 3600/],
  ['seconds a string', (w) => void (w.seconds = 'x' as never), /"seconds"/],
  ['seconds null', (w) => void (w.seconds = null as never), /"seconds"/],
  ['seconds missing', (w) => void delete (w as Partial<Wire>).seconds, /"seconds"/],
  [
    '3601 seconds',
    (w) => void (w.seconds = Array.from({ length: 3601 }, (_, s) => ({ s, series: [], errors: [] }))),
    /"seconds" must be an array of at most 3600/,
  ],
  // seconds
  ['a second null', (w) => void (w.seconds[1] = null as never), /seconds\[1\] must be an object/],
  ['a second a number', (w) => void (w.seconds[0] = 5 as never), /seconds\[0\] must be an object/],
  ['a second a string', (w) => void (w.seconds[0] = 'x' as never), /seconds\[0\] must be an object/],
  ['second -1', (w) => void (w.seconds[0]!.s = -1), /seconds\[0\]\.s must be an integer in 0\.\.10000000/],
  ['second fractional', (w) => void (w.seconds[1]!.s = 4.5), /seconds\[1\]\.s/],
  ['second too far', (w) => void (w.seconds[0]!.s = 10_000_001), /seconds\[0\]\.s/],
  ['second a string', (w) => void (w.seconds[0]!.s = '4'), /seconds\[0\]\.s/],
  ['second missing', (w) => void delete w.seconds[0]!.s, /seconds\[0\]\.s/],
  ['series an object', (w) => void (w.seconds[0]!.series = {} as never), /seconds\[0\]\.series must be an array of at most 103/],
  ['series null', (w) => void (w.seconds[0]!.series = null as never), /seconds\[0\]\.series/],
  [
    '104 series',
    (w) => {
      const d = w.seconds[0]!.series.find((x) => x.name === 'login')!;
      for (let i = 0; i < 102; i++) w.seconds[0]!.series.push({ ...d, name: `t${i}` });
    },
    /seconds\[0\]\.series must be an array of at most 103/,
  ],
  // series
  ['a series null', (w) => void (w.seconds[0]!.series[0] = null as never), /seconds\[0\]\.series\[0\] must be an object/],
  ['a series a number', (w) => void (w.seconds[0]!.series[1] = 3 as never), /seconds\[0\]\.series\[1\] must be an object/],
  ['a series a string', (w) => void (w.seconds[0]!.series[1] = 'login' as never), /seconds\[0\]\.series\[1\] must be an object/],
  ['a series an array', (w) => void (w.seconds[0]!.series[1] = [] as never), /seconds\[0\]\.series\[1\]\.name/],
  ['series name missing', (w) => void delete w.seconds[0]!.series[0]!.name, /seconds\[0\]\.series\[0\]\.name must be a non-empty string/],
  ['series name empty', (w) => void (w.seconds[0]!.series[0]!.name = ''), /series\[0\]\.name/],
  ['series name a number', (w) => void (w.seconds[0]!.series[0]!.name = 1), /series\[0\]\.name/],
  ['series name of 501 characters', (w) => void (w.seconds[1]!.series[1]!.name = 'n'.repeat(501)), /seconds\[1\]\.series\[1\]\.name/],
  ['a series twice in one second', (w) => void w.seconds[0]!.series.push({ ...w.seconds[0]!.series[1]! }), /series\[2\]: series "login" twice in one second/],
  [
    'a histogram with a negative count',
    (w) => void ((w.seconds[0]!.series[0]!.b as number[])[1]! *= -1),
    /series\[0\] \(All transactions\): bucket \d+: count -\d+/,
  ],
  ['a histogram with n off by one', (w) => void ((w.seconds[1]!.series[1]!.n as number) += 1), /seconds\[1\]\.series\[1\] \(login\): bucket counts add up to/],
  ['a histogram with NaN-ish mean', (w) => void (w.seconds[0]!.series[0]!.mean = null), /"mean" must be a finite number/],
  ['a histogram with b a string', (w) => void (w.seconds[0]!.series[0]!.b = '1,2'), /"b" must be/],
  ['a histogram with b missing', (w) => void delete w.seconds[0]!.series[0]!.b, /"b" must be/],
  [
    'a histogram with a bucket out of range',
    (w) => void (w.seconds[0]!.series[0]!.b = [HISTOGRAM_BUCKETS, w.seconds[0]!.series[0]!.n]),
    /bucket 3328 is not ascending/,
  ],
  ['a histogram with max beyond a day', (w) => void (w.seconds[0]!.series[0]!.max = MAX_LATENCY_SECONDS + 1), /"max" 86401 s is beyond/],
  ['e > n', (w) => void (w.seconds[0]!.series[1]!.e = (w.seconds[0]!.series[1]!.n as number) + 1), /seconds\[0\]\.series\[1\]\.e must be an integer in 0\.\.n/],
  [
    'an empty series with forged moments',
    (w) => void Object.assign(w.seconds[0]!.series[1]!, { n: 0, e: 0, b: [], min: 5, max: 1 }),
    /series\[1\]: an empty series is not a delta|"mean" must lie/,
  ],
  ['e negative', (w) => void (w.seconds[0]!.series[1]!.e = -1), /series\[1\]\.e/],
  ['e fractional', (w) => void (w.seconds[0]!.series[1]!.e = 0.5), /series\[1\]\.e/],
  ['e a string', (w) => void (w.seconds[0]!.series[1]!.e = '0'), /series\[1\]\.e/],
  ['e missing', (w) => void delete w.seconds[0]!.series[1]!.e, /series\[1\]\.e/],
  // errors
  ['errors missing', (w) => void delete (w.seconds[0] as Partial<Wire['seconds'][0]>).errors, /seconds\[0\]\.errors must be an array of at most 101/],
  ['errors an object', (w) => void (w.seconds[0]!.errors = { 'HTTP 503': 4 } as never), /seconds\[0\]\.errors must be an array/],
  [
    '102 error texts',
    (w) => void (w.seconds[0]!.errors = Array.from({ length: 102 }, (_, i) => [`e${i}`, 1])),
    /seconds\[0\]\.errors must be an array of at most 101/,
  ],
  ['an error pair null', (w) => void (w.seconds[0]!.errors[0] = null), /seconds\[0\]\.errors\[0\] must be \[non-empty message, positive count\]/],
  ['an error pair an object', (w) => void (w.seconds[0]!.errors[0] = { 'HTTP 503': 4 }), /seconds\[0\]\.errors\[0\]/],
  ['an error pair of three', (w) => void (w.seconds[0]!.errors[0] = ['HTTP 503', 4, 1]), /seconds\[0\]\.errors\[0\]/],
  ['an error text empty', (w) => void (w.seconds[0]!.errors[0] = ['', 4]), /seconds\[0\]\.errors\[0\]/],
  ['an error text a number', (w) => void (w.seconds[0]!.errors[0] = [503, 4]), /seconds\[0\]\.errors\[0\]/],
  ['an error text of 2001 characters', (w) => void (w.seconds[0]!.errors[0] = ['m'.repeat(2001), 4]), /seconds\[0\]\.errors\[0\]/],
  [
    'an error count 0',
    (w) =>
      void (w.seconds[0]!.errors = [
        ['HTTP 503', 4],
        ['other', 0],
      ]),
    /seconds\[0\]\.errors\[1\]/,
  ],
  ['an error count fractional', (w) => void (w.seconds[0]!.errors[0] = ['HTTP 503', 3.5]), /seconds\[0\]\.errors\[0\]/],
  ['an error count a string', (w) => void (w.seconds[0]!.errors[0] = ['HTTP 503', '4']), /seconds\[0\]\.errors\[0\]/],
  [
    'errors by message more than the errors',
    (w) => void (w.seconds[0]!.errors = [['HTTP 503', 5]]),
    /seconds\[0\]: errors by message add up to 5, "All transactions" says 4/,
  ],
  [
    'errors by message fewer than the errors',
    (w) => void (w.seconds[1]!.errors = []),
    /seconds\[1\]: errors by message add up to 0, "All transactions" says 4/,
  ],
  [
    'errors without an All-transactions series',
    (w) => void (w.seconds[0]!.series = w.seconds[0]!.series.filter((d) => d.name !== ALL)),
    /seconds\[0\]: errors by message add up to 4, "All transactions" says 0/,
  ],
  // the whole message of the wrong type
  ['the message an array', () => [], /message must be a JSON object/],
  ['the message a number', () => 5, /message must be a JSON object/],
  ['the message a string', () => 'aggregate', /message must be a JSON object/],
  ['the message null', () => null, /message must be a JSON object/],
];

for (const [name, change, reason] of cases) {
  test(`refused, naming the field: ${name}`, () => refused(hostile(change), reason));
}

test('a turret name of the wrong type is not refused but dropped; a long one is cut', () => {
  for (const [turret, expected] of [
    [5, ''],
    [null, ''],
    [{ x: 1 }, ''],
    ['t'.repeat(600), 't'.repeat(500)],
  ] as const) {
    const r = parse({ ...wire(), turret });
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.message.turret, expected);
  }
});

test('extra fields anywhere, and a __proto__ key, do not leak into what is accepted', () => {
  const one = new LatencyHistogram();
  one.record(0.01);
  const text = encodeAggregate(messageOf([{ second: 1, series: [{ name: ALL, errors: 0, hist: one.encode() }], errors: [] }]))
    .replace('"n":1', '"n":1,"__proto__":{"polluted":1},"extra":[1,2]')
    .replace('"s":1', '"s":1,"__proto__":{"polluted":1}');
  const r = parse(JSON.parse(text));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  if (!r.ok) return;
  assertConsistent(r.message);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

// --- fuzz ---

const ENVELOPE_KEYS = ['oct', 'type', 'v', 'precision', 'uuid', 'turret', 'seq', 'seconds'];

test('parseAggregate never throws on arbitrary JSON, and what it accepts is consistent', () => {
  const check = (v: unknown) => {
    const r = parse(v);
    if (r.ok) assertConsistent(r.message);
    else assert.match(r.reason, /^aggregate: ./);
  };
  fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 300 });
  // Objects that get past the envelope checks more often than arbitrary JSON would.
  const envelope = fc.record(
    {
      v: fc.oneof(fc.constant(1), fc.jsonValue()),
      precision: fc.oneof(fc.constant(HISTOGRAM_PRECISION), fc.jsonValue()),
      uuid: fc.oneof(fc.string(), fc.jsonValue()),
      seq: fc.oneof(fc.integer({ min: -1, max: 1e6 }), fc.jsonValue()),
      turret: fc.jsonValue(),
      seconds: fc.oneof(
        fc.array(
          fc.record(
            {
              s: fc.oneof(fc.nat(), fc.jsonValue()),
              series: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 3 }), fc.jsonValue()),
              errors: fc.oneof(fc.array(fc.jsonValue(), { maxLength: 3 }), fc.constant([]), fc.jsonValue()),
            },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  );
  fc.assert(fc.property(envelope, check), { numRuns: 300 });
  fc.assert(fc.property(fc.dictionary(fc.constantFrom(...ENVELOPE_KEYS), fc.jsonValue()), check), { numRuns: 200 });
});

/** Every [parent, key] slot of a JSON value, depth first. */
function slots(v: unknown, out: [Record<string | number, unknown>, string | number][] = []) {
  if (typeof v === 'object' && v !== null) {
    for (const k of Object.keys(v)) {
      out.push([v as Record<string | number, unknown>, Array.isArray(v) ? Number(k) : k]);
      slots((v as Record<string, unknown>)[k], out);
    }
  }
  return out;
}

const edit = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.jsonValue() }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.constantFrom(0, -1, 1, 0.5, 1e300, -0, '', '1', null, [], {}, HISTOGRAM_BUCKETS, MAX_LATENCY_SECONDS + 1, 2 ** 53),
  }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const, 'bump' as const), at: fc.nat(), value: fc.constant(null) }),
);

test('random mutations of a valid message: never a throw, either a reason or consistent data', () => {
  fc.assert(
    fc.property(rows(turretRow), fc.array(edit, { minLength: 1, maxLength: 4 }), (rs, edits) => {
      const b = new DeltaBuilder();
      for (const r of rs) b.record(r.elapsed, r.scriptrunTime, r.error, r.customTimers);
      const w = JSON.parse(encodeAggregate(messageOf(b.take(), 7))) as Record<string, unknown>;
      for (const { kind, at, value } of edits) {
        const all = slots(w);
        const [parent, key] = all[at % all.length]!;
        if (kind === 'set')
          parent[key] = structuredClone(value); // fast-check reuses its values when shrinking: never mutate them
        else if (kind === 'delete') {
          if (Array.isArray(parent)) parent.splice(key as number, 1);
          else delete parent[key];
        } else if (kind === 'duplicate') {
          if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key]));
          else parent[key] = [parent[key], parent[key]];
        } else if (typeof parent[key] === 'number') parent[key] = (parent[key] as number) + 1;
      }
      const r = parse(w);
      if (r.ok) assertConsistent(r.message);
      else assert.match(r.reason, /^aggregate: ./);
    }),
    { numRuns: 300 },
  );
});
