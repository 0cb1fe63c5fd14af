// Pre-aggregated results, oct turret → HQ: per second of the turret's test time and per series, a
// histogram delta (protocol/histogram.ts) with its error count, and the errors of that second by
// message. One JSON frame, numbered in the same `seq` stream as result batches, so the HQ's
// sequence check counts it once and the drain waits for it:
//
//   {"oct":1,"type":"aggregate","v":1,"precision":7,"uuid":"…","turret":"…","seq":42,
//    "seconds":[{"s":12,"series":[{"name":"All transactions","e":1,"n":980,"min":0.0011,"max":0.21,
//                                  "mean":0.0042,"m2":0.0031,"b":[1210,3,1211,9,…]}],
//                "errors":[["HTTP 503",1]]}]}
//
// The same second may come in several messages (a flush falls mid-second): deltas add up.
// The HQ builds the same deltas itself from the single results of legacy turrets (`DeltaBuilder`).
import { HISTOGRAM_PRECISION, LatencyHistogram, MAX_LATENCY_SECONDS, type EncodedHistogram, histogramProblem } from './histogram.ts';
import { ALL_TRANSACTIONS_SERIES, INTENDED_LATENCY_SERIES, MAX_ELAPSED_SECONDS, type ResultBatch } from './results.ts';
import {
  addCounters,
  BYTES_RECEIVED_COUNTER,
  BYTES_SENT_COUNTER,
  type Counters,
  checkSeries,
  countersProblem,
  NO_STATUS_COUNTER,
  STATUS_COUNTER_PREFIX,
} from './series-names.ts';

export const AGGREGATE_VERSION = 1;
/** Custom timer series per run beyond which names fold into OTHER_SERIES (turret) or are refused (HQ). */
export const MAX_TIMER_SERIES = 100;
export const OTHER_SERIES = 'other';
/** Distinct error messages kept per second and turret; the rest are counted under one text. */
export const MAX_ERROR_MESSAGES = 100;
export const OTHER_ERRORS = '(other errors)';
const MAX_ELAPSED_SECONDSS_PER_MESSAGE = 3_600;
const MAX_NAME = 500;
const MAX_MESSAGE_TEXT = 2_000;

export interface SeriesDelta {
  name: string;
  /** Values of this series recorded by failed transactions. */
  errors: number;
  hist: EncodedHistogram;
  /** Requests only (protocol/series-names.ts): responses per status, bytes sent and received. */
  counters?: Counters;
}

export interface SecondDelta {
  /** Whole seconds since the turret's start, as `elapsed` of its results. */
  second: number;
  series: SeriesDelta[];
  errors: [message: string, count: number][];
}

export interface AggregateMessage {
  uuid: string;
  turret: string;
  seq: number;
  seconds: SecondDelta[];
}

export function encodeAggregate(m: AggregateMessage): string {
  return JSON.stringify({
    oct: 1,
    type: 'aggregate',
    v: AGGREGATE_VERSION,
    precision: HISTOGRAM_PRECISION,
    uuid: m.uuid,
    turret: m.turret,
    seq: m.seq,
    seconds: m.seconds.map((s) => ({
      s: s.second,
      series: s.series.map((d) => (d.counters ? { name: d.name, e: d.errors, c: d.counters, ...d.hist } : { name: d.name, e: d.errors, ...d.hist })),
      errors: s.errors,
    })),
  });
}

export type ParsedAggregate = { ok: true; message: AggregateMessage } | { ok: false; reason: string };

/** Checks every field of an aggregate message from the network; nothing partial is ever returned. */
export function parseAggregate(o: Record<string, unknown>): ParsedAggregate {
  const fail = (reason: string): ParsedAggregate => ({ ok: false, reason: `aggregate: ${reason}` });
  // parseIncoming only passes objects, but this must never throw: `null.v` would (found by protocol/aggregate.test.ts).
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail('message must be a JSON object');
  if (o.v !== AGGREGATE_VERSION) return fail(`unsupported version ${JSON.stringify(o.v)} (this HQ reads ${AGGREGATE_VERSION})`);
  if (o.precision !== HISTOGRAM_PRECISION) return fail(`histogram precision ${JSON.stringify(o.precision)}, expected ${HISTOGRAM_PRECISION}`);
  if (typeof o.uuid !== 'string' || o.uuid === '' || o.uuid.length > MAX_NAME) return fail('"uuid" must be a non-empty string');
  if (typeof o.seq !== 'number' || !Number.isInteger(o.seq) || o.seq < 1) return fail('"seq" must be a positive integer');
  if (!Array.isArray(o.seconds) || o.seconds.length > MAX_ELAPSED_SECONDSS_PER_MESSAGE)
    return fail(`"seconds" must be an array of at most ${MAX_ELAPSED_SECONDSS_PER_MESSAGE}`);
  const seconds: SecondDelta[] = [];
  for (const [k, raw] of o.seconds.entries()) {
    if (typeof raw !== 'object' || raw === null) return fail(`seconds[${k}] must be an object`);
    const s = raw as Record<string, unknown>;
    if (typeof s.s !== 'number' || !Number.isInteger(s.s) || s.s < 0 || s.s > MAX_ELAPSED_SECONDS)
      return fail(`seconds[${k}].s must be an integer in 0..${MAX_ELAPSED_SECONDS}`);
    if (!Array.isArray(s.series) || s.series.length > MAX_TIMER_SERIES + 3)
      return fail(`seconds[${k}].series must be an array of at most ${MAX_TIMER_SERIES + 3}`);
    const series: SeriesDelta[] = [];
    const names = new Set<string>();
    for (const [j, d] of s.series.entries()) {
      const where = `seconds[${k}].series[${j}]`;
      if (typeof d !== 'object' || d === null) return fail(`${where} must be an object`);
      const { name, e, c, ...hist } = d as Record<string, unknown>;
      if (typeof name !== 'string' || name === '' || name.length > MAX_NAME) return fail(`${where}.name must be a non-empty string`);
      if (names.has(name)) return fail(`${where}: series ${JSON.stringify(name)} twice in one second`);
      names.add(name);
      const problem = histogramProblem(hist);
      if (problem) return fail(`${where} (${name.slice(0, 60)}): ${problem}`);
      const h = hist as unknown as EncodedHistogram;
      if (h.n === 0) return fail(`${where}: an empty series is not a delta`);
      if (typeof e !== 'number' || !Number.isInteger(e) || e < 0 || e > h.n) return fail(`${where}.e must be an integer in 0..n`);
      const delta: SeriesDelta = { name, errors: e, hist: { n: h.n, min: h.min, max: h.max, mean: h.mean, m2: h.m2, b: h.b } };
      // Optional (an older oct turret sends none): counters of the series' requests.
      if (c !== undefined) {
        const bad = countersProblem(c);
        if (bad) return fail(`${where}.c: ${bad}`);
        delta.counters = { ...(c as Counters) };
      }
      series.push(delta);
    }
    if (!Array.isArray(s.errors) || s.errors.length > MAX_ERROR_MESSAGES + 1)
      return fail(`seconds[${k}].errors must be an array of at most ${MAX_ERROR_MESSAGES + 1}`);
    const errors: [string, number][] = [];
    for (const [j, pair] of s.errors.entries()) {
      const ok =
        Array.isArray(pair) &&
        pair.length === 2 &&
        typeof pair[0] === 'string' &&
        pair[0] !== '' &&
        pair[0].length <= MAX_MESSAGE_TEXT &&
        typeof pair[1] === 'number' &&
        Number.isInteger(pair[1]) &&
        pair[1] > 0;
      if (!ok) return fail(`seconds[${k}].errors[${j}] must be [non-empty message, positive count]`);
      errors.push([pair[0], pair[1]]);
    }
    const all = series.find((d) => d.name === ALL_TRANSACTIONS_SERIES);
    const errorTotal = errors.reduce((a, [, c]) => a + c, 0);
    if (errorTotal !== (all?.errors ?? 0))
      return fail(`seconds[${k}]: errors by message add up to ${errorTotal}, "${ALL_TRANSACTIONS_SERIES}" says ${all?.errors ?? 0}`);
    seconds.push({ second: s.s, series, errors });
  }
  return { ok: true, message: { uuid: o.uuid, turret: typeof o.turret === 'string' ? o.turret.slice(0, MAX_NAME) : '', seq: o.seq, seconds } };
}

interface RequestCounts {
  /** Responses per status; 0: no response. */
  statuses: Map<number, number>;
  sent: number;
  received: number;
}

function requestCounters(r: RequestCounts): Counters {
  const c: Counters = { [BYTES_SENT_COUNTER]: r.sent, [BYTES_RECEIVED_COUNTER]: r.received };
  for (const [status, n] of r.statuses) c[status === 0 ? NO_STATUS_COUNTER : `${STATUS_COUNTER_PREFIX}${status}`] = n;
  return c;
}

interface SeriesAcc {
  hist: LatencyHistogram;
  errors: number;
  counters?: Counters;
  requests?: RequestCounts;
}

/** Per second and series, the histograms of results as they come; `take` hands the deltas over and starts again. */
export class DeltaBuilder {
  private readonly seconds = new Map<number, { series: Map<string, SeriesAcc>; errors: Map<string, number> }>();
  private readonly timerNames = new Set<string>();

  constructor(private readonly maxTimerSeries = MAX_TIMER_SERIES) {}

  get empty(): boolean {
    return this.seconds.size === 0;
  }

  // Results come in time order: almost every one falls in the second of the one before.
  private lastSecond = -1;
  private lastEntry: { series: Map<string, SeriesAcc>; errors: Map<string, number> } | null = null;

  private second(elapsed: number) {
    const s = Math.min(MAX_ELAPSED_SECONDS, Math.max(0, Math.floor(elapsed)));
    if (s === this.lastSecond && this.lastEntry) return this.lastEntry;
    let sec = this.seconds.get(s);
    if (!sec) this.seconds.set(s, (sec = { series: new Map(), errors: new Map() }));
    this.lastSecond = s;
    this.lastEntry = sec;
    return sec;
  }

  /** One transaction: its run() time, whether it failed (and why), and its custom timers. */
  record(elapsed: number, scriptrunTime: number, error: string | null, timers: Record<string, number> | null): void {
    const sec = this.second(elapsed);
    const failed = error !== null;
    // Every transaction counts: a run() time that is not a time (a legacy clock going backwards) counts as 0.
    this.recordIn(sec.series, ALL_TRANSACTIONS_SERIES, scriptrunTime >= 0 ? scriptrunTime : 0, failed);
    if (failed) this.countError(sec.errors, error);
    if (timers) for (const name in timers) this.recordIn(sec.series, this.seriesName(name), timers[name]!, failed);
  }

  /** Every result of a batch (the HQ, for turrets that do not pre-aggregate). */
  recordBatch(batch: ResultBatch): void {
    for (let i = 0; i < batch.count; i++) {
      const sec = this.second(batch.elapsed[i]!);
      const e = batch.errorIndex[i]!;
      const failed = e >= 0;
      const v = batch.scriptrunTime[i]!;
      this.recordIn(sec.series, ALL_TRANSACTIONS_SERIES, v >= 0 ? v : 0, failed);
      if (failed) this.countError(sec.errors, batch.errors[e]!);
      for (let k = 0; k < batch.timerNames.length; k++) {
        const v = batch.timers[k]![i]!;
        if (v >= 0) this.recordIn(sec.series, this.seriesName(batch.timerNames[k]!), v, failed);
      }
    }
  }

  /**
   * One value of a series outside any transaction's fate (a request, a check): counted under the
   * same cap as custom timers, `failed` counts it as an error of that series only.
   */
  sample(elapsed: number, name: string, value: number, failed: boolean, counters?: Counters): void {
    const sec = this.second(elapsed);
    const series = this.seriesName(name);
    this.recordIn(sec.series, series, value, failed);
    if (counters) {
      const d = sec.series.get(series);
      if (d) d.counters = d.counters ? addCounters(d.counters, counters) : { ...counters };
    }
  }

  /** One evaluation of a named check: its series counts evaluations (value 0), its errors the failed ones. */
  check(elapsed: number, name: string, passed: boolean): void {
    this.sample(elapsed, checkSeries(name), 0, !passed);
  }

  /** One HTTP request (a hop): its time, whether it failed, its status (0: none) and body bytes. */
  request(elapsed: number, name: string, seconds: number, failed: boolean, status: number, sent: number, received: number): void {
    const sec = this.second(elapsed);
    const d = this.recordIn(sec.series, this.seriesName(name), seconds, failed);
    if (!d) return;
    // Plain numbers per request, an object of counters only when the second is taken.
    const r = (d.requests ??= { statuses: new Map(), sent: 0, received: 0 });
    const k = status >= 100 && status <= 999 ? status : 0;
    r.statuses.set(k, (r.statuses.get(k) ?? 0) + 1);
    r.sent += sent;
    r.received += received;
  }

  take(): SecondDelta[] {
    const out: SecondDelta[] = [];
    for (const [second, sec] of [...this.seconds].sort((a, b) => a[0] - b[0])) {
      const series: SeriesDelta[] = [];
      for (const [name, d] of sec.series) {
        if (d.hist.count === 0) continue;
        const counters = d.requests ? addCounters(requestCounters(d.requests), d.counters ?? {}) : d.counters;
        series.push(counters ? { name, errors: d.errors, hist: d.hist.encode(), counters } : { name, errors: d.errors, hist: d.hist.encode() });
      }
      out.push({ second, series, errors: [...sec.errors] });
    }
    this.seconds.clear();
    this.lastEntry = null;
    return out;
  }

  private seriesName(name: string): string {
    if (name === ALL_TRANSACTIONS_SERIES || name === OTHER_SERIES || name === '' || name.length > MAX_NAME) return OTHER_SERIES;
    // oct's own series, not a custom timer: outside the cap, as the HQ's aggregator and parseAggregate's
    // MAX_TIMER_SERIES + 3 count it. The canon adds it after the script's timers, so 100 of those used to fold it into "other".
    if (name === INTENDED_LATENCY_SERIES) return name;
    if (this.timerNames.has(name)) return name;
    if (this.timerNames.size >= this.maxTimerSeries) return OTHER_SERIES;
    this.timerNames.add(name);
    return name;
  }

  private recordIn(series: Map<string, SeriesAcc>, name: string, v: number, failed: boolean): SeriesAcc | null {
    if (typeof v !== 'number' || !(v >= 0)) return null;
    let d = series.get(name);
    if (!d) series.set(name, (d = { hist: new LatencyHistogram(), errors: 0 }));
    // Beyond a day is a broken clock or a forged result: clamped, or the whole message would be refused.
    d.hist.record(Math.min(v, MAX_LATENCY_SECONDS));
    if (failed) d.errors++;
    return d;
  }

  private countError(errors: Map<string, number>, message: string): void {
    const text = message.length > MAX_MESSAGE_TEXT ? message.slice(0, MAX_MESSAGE_TEXT) : message;
    const key = errors.has(text) || errors.size < MAX_ERROR_MESSAGES ? text : OTHER_ERRORS;
    errors.set(key, (errors.get(key) ?? 0) + 1);
  }
}
