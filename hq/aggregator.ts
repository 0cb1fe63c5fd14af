// The HQ's one statistics engine. Every result is counted here exactly once — from an oct turret's
// per-second histogram deltas as they arrive, from the single results of other turrets by building
// the same deltas here — and everything that reports numbers reads from it: the live line, /status,
// /metrics, the live thresholds, and (through the deltas it hands the store) the report.
//
// Cost is per delta (one per second × series × turret), never per result: merging an encoded
// delta walks its non-empty buckets only.
import type { Clock } from '../common/clock.ts';
import { DeltaBuilder, MAX_TIMER_SERIES, OTHER_SERIES, type SecondDelta } from '../protocol/aggregate.ts';
import { LatencyHistogram, mergeEncoded } from '../protocol/histogram.ts';
import { ALL_TRANSACTIONS_SERIES, INTENDED_LATENCY_SERIES, type ResultBatch } from '../protocol/results.ts';
import { addCounters, checkName, type Counters, isCheckSeries } from '../protocol/series-names.ts';
import type { AggregateRow, DeliveredSeq, ErrorCountRow } from '../store/types.ts';

export const UNNAMED_TURRET = 'unnamed';

export interface SeriesSnapshot {
  name: string;
  count: number;
  errors: number;
  /** Seconds. */
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  /** Requests: responses per status, bytes sent and received (protocol/series-names.ts). */
  counters?: Counters;
}

/** One series over one interval (hq/dashboard-feed.ts): latencies in seconds. */
export interface IntervalFigures {
  name: string;
  count: number;
  errors: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface TurretCounts {
  transactions: number;
  errors: number;
}

export interface LiveSnapshot {
  transactions: number;
  errors: number;
  ratePerSecond: number;
  series: SeriesSnapshot[];
  turrets: Record<string, TurretCounts>;
  /** Series deltas refused because the run already had the most custom timer series. */
  refusedSeries: number;
  /** ctx.check pass rates so far. */
  checks: LiveCheck[];
}

export interface LiveCheck {
  name: string;
  passes: number;
  fails: number;
  passRate: number;
}

export interface TurretKey {
  uuid: string | null;
  name: string | null;
}

/** Counts and watched histograms over one whole second of HQ time, for windows and the rate. */
interface Slot {
  second: number;
  transactions: number;
  errors: number;
  series: Map<string, { hist: LatencyHistogram; errors: number }>;
}

export interface WindowView {
  seconds: number;
  transactions: number;
  errors: number;
  /** A watched series over the window: merged histogram and errors; null if it is not watched. */
  series(name: string): { hist: LatencyHistogram; errors: number } | null;
}

export interface AggregatorOptions {
  clock: Clock;
  /** Longest sliding window anyone reads (thresholds' "over 30s"); at least the rate's 5 s. */
  windowSeconds?: number;
  maxTimerSeries?: number;
}

const RATE_SECONDS = 5;
/** Distinct error messages counted one by one; the rest share OTHER_MESSAGES (a script that puts ids in messages). */
const MAX_MESSAGES = 1000;
export const OTHER_MESSAGES = '(other messages)';
const RESERVED = new Set([ALL_TRANSACTIONS_SERIES, INTENDED_LATENCY_SERIES, OTHER_SERIES]);

export class Aggregator {
  transactions = 0;
  errors = 0;
  /** Series deltas refused (a new name beyond the cap): counted, never merged. */
  refusedSeries = 0;
  private readonly clock: Clock;
  private readonly maxTimerSeries: number;
  private readonly totals = new Map<string, { hist: LatencyHistogram; errors: number; counters?: Counters }>();
  private timerSeries = 0;
  private readonly turrets = new Map<string, Map<string, TurretCounts>>();
  private readonly pendingRows = new Map<string, { key: TurretKey; deltas: DeltaBuilder }>();
  private storeRows: AggregateRow[] = [];
  private storeErrors: ErrorCountRow[] = [];
  /** The numbered messages merged since the last take: durable once the rows taken with them are. */
  private delivered: DeliveredSeq[] = [];
  private readonly slots: Slot[];
  private readonly watched = new Set<string>([ALL_TRANSACTIONS_SERIES]);
  /** Per series, what arrived since the last takeInterval(); null until someone reads intervals (the dashboard). */
  private readonly messages = new Map<string, number>();
  private otherMessages = 0;
  private interval: Map<string, { hist: LatencyHistogram; errors: number }> | null = null;

  constructor(opts: AggregatorOptions) {
    this.clock = opts.clock;
    this.maxTimerSeries = opts.maxTimerSeries ?? MAX_TIMER_SERIES;
    const span = Math.max(RATE_SECONDS, Math.ceil(opts.windowSeconds ?? 0)) + 1;
    this.slots = Array.from({ length: span }, () => ({ second: -1, transactions: 0, errors: 0, series: new Map() }));
    this.totals.set(ALL_TRANSACTIONS_SERIES, { hist: new LatencyHistogram(), errors: 0 });
  }

  /** Keeps per-second histograms of this series for sliding windows (thresholds name them). */
  watch(series: string): void {
    this.watched.add(series);
  }

  /**
   * One turret's deltas. Returns how many series deltas were refused because their name would
   * exceed the custom timer cap; the rest are merged.
   */
  addDeltas(turret: TurretKey, seconds: SecondDelta[], seq: number | null = null): number {
    if (seq !== null && turret.uuid !== null) this.delivered.push({ uuid: turret.uuid, seq });
    let refused = 0;
    const slot = this.slot();
    for (const sec of seconds) {
      for (const d of sec.series) {
        const total = this.seriesTotal(d.name);
        if (!total) {
          refused++;
          continue;
        }
        total.hist.addEncoded(d.hist);
        total.errors += d.errors;
        if (d.counters) total.counters = addCounters(total.counters ?? {}, d.counters);
        this.turretCounts(turret, d.name, d.hist.n, d.errors);
        if (d.name === ALL_TRANSACTIONS_SERIES) {
          this.transactions += d.hist.n;
          this.errors += d.errors;
          slot.transactions += d.hist.n;
          slot.errors += d.errors;
        }
        if (this.interval) {
          let iv = this.interval.get(d.name);
          if (!iv) this.interval.set(d.name, (iv = { hist: new LatencyHistogram(), errors: 0 }));
          iv.hist.addEncoded(d.hist);
          iv.errors += d.errors;
        }
        if (this.watched.has(d.name)) {
          let w = slot.series.get(d.name);
          if (!w) slot.series.set(d.name, (w = { hist: new LatencyHistogram(), errors: 0 }));
          w.hist.addEncoded(d.hist);
          w.errors += d.errors;
        }
        const row: AggregateRow = { second: sec.second, turretUuid: turret.uuid, turretName: turret.name, series: d.name, errors: d.errors, hist: d.hist };
        if (d.counters) row.counters = d.counters;
        this.storeRows.push(row);
      }
      for (const [message, count] of sec.errors) {
        this.countMessage(message, count);
        this.storeErrors.push({ second: sec.second, turretUuid: turret.uuid, turretName: turret.name, message, count });
      }
    }
    this.refusedSeries += refused;
    return refused;
  }

  /**
   * What a previous HQ of this run stored (an HQ restarted mid-run): counted into the totals so
   * the live figures, /metrics and the outcome are the whole run's, not handed to the store again.
   */
  seed(rows: AggregateRow[]): void {
    for (const r of rows) {
      const total = this.seriesTotal(r.series);
      if (!total || r.hist.n === 0) continue;
      total.hist.addEncoded(r.hist);
      total.errors += r.errors;
      if (r.counters) total.counters = addCounters(total.counters ?? {}, r.counters);
      this.turretCounts({ uuid: r.turretUuid, name: r.turretName }, r.series, r.hist.n, r.errors);
      if (r.series === ALL_TRANSACTIONS_SERIES) {
        this.transactions += r.hist.n;
        this.errors += r.errors;
      }
    }
  }

  /** The error counts a previous HQ of this run stored (with `seed`). */
  seedErrors(errors: ErrorCountRow[]): void {
    for (const e of errors) this.countMessage(e.message, e.count);
  }

  /** Failed transactions by message over the run so far, most frequent first. */
  errorsByMessage(limit: number): { message: string; count: number }[] {
    const all = [...this.messages].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count || (a.message < b.message ? -1 : 1));
    const top = all.slice(0, limit);
    if (this.otherMessages) top.push({ message: OTHER_MESSAGES, count: this.otherMessages });
    return top;
  }

  private countMessage(message: string, count: number): void {
    const seen = this.messages.get(message);
    if (seen !== undefined) this.messages.set(message, seen + count);
    else if (this.messages.size < MAX_MESSAGES) this.messages.set(message, count);
    else this.otherMessages += count;
  }

  /**
   * Results of a turret that does not pre-aggregate: counted at the next `fold` (within a second).
   * `acknowledge`: the message counts as delivered once these aggregates are stored (false when its
   * rows are stored too: then their commit says so, a message is acknowledged only with its rows).
   */
  addRows(batch: ResultBatch, turret: TurretKey, opts: { acknowledge: boolean } = { acknowledge: true }): void {
    const k = `${turret.uuid ?? ''}\u0000${turret.name ?? ''}`;
    let p = this.pendingRows.get(k);
    if (!p) this.pendingRows.set(k, (p = { key: turret, deltas: new DeltaBuilder(this.maxTimerSeries) }));
    p.deltas.recordBatch(batch);
    if (opts.acknowledge && batch.seq !== null && turret.uuid !== null) this.delivered.push({ uuid: turret.uuid, seq: batch.seq });
  }

  /** Folds results taken in by `addRows` into the totals: once a second, and before reading at the end. */
  fold(): void {
    for (const p of this.pendingRows.values()) if (!p.deltas.empty) this.addDeltas(p.key, p.deltas.take());
  }

  /**
   * The deltas not yet handed to the store (each exactly once), merged per second, turret and
   * series: a turret sends several deltas a second, the store needs one row for them.
   */
  takeStoreRows(): { rows: AggregateRow[]; errors: ErrorCountRow[]; delivered: DeliveredSeq[] } {
    const rows = new Map<string, AggregateRow>();
    for (const r of this.storeRows) {
      const key = `${r.second}\u0000${r.turretUuid ?? ''}\u0000${r.turretName ?? ''}\u0000${r.series}`;
      const seen = rows.get(key);
      if (!seen) rows.set(key, r);
      else {
        const merged: AggregateRow = { ...seen, errors: seen.errors + r.errors, hist: mergeEncoded(seen.hist, r.hist) };
        if (seen.counters || r.counters) merged.counters = addCounters(addCounters({}, seen.counters ?? {}), r.counters ?? {});
        rows.set(key, merged);
      }
    }
    const errors = new Map<string, ErrorCountRow>();
    for (const e of this.storeErrors) {
      const key = `${e.second}\u0000${e.turretUuid ?? ''}\u0000${e.turretName ?? ''}\u0000${e.message}`;
      const seen = errors.get(key);
      if (seen) seen.count += e.count;
      else errors.set(key, { ...e });
    }
    this.storeRows = [];
    this.storeErrors = [];
    const delivered = this.delivered;
    this.delivered = [];
    return { rows: [...rows.values()], errors: [...errors.values()], delivered };
  }

  /**
   * Every series' values that arrived since the previous call (the first call starts tracking), as
   * figures: the dashboard's points over time. Costs one more histogram merge per delta once on.
   */
  takeInterval(): IntervalFigures[] {
    const out: IntervalFigures[] = [];
    if (!this.interval) {
      this.interval = new Map();
      return out;
    }
    for (const [name, { hist: h, errors }] of this.interval) {
      if (h.count === 0) continue;
      out.push({
        name,
        count: h.count,
        errors,
        mean: h.mean,
        p50: h.percentile(0.5) ?? 0,
        p95: h.percentile(0.95) ?? 0,
        p99: h.percentile(0.99) ?? 0,
        max: h.max,
      });
      h.reset();
    }
    for (const iv of this.interval.values()) iv.errors = 0;
    return out;
  }

  /** Merged histogram of a series over the run so far (null when no such series). */
  series(name: string): LatencyHistogram | null {
    return this.totals.get(name)?.hist ?? null;
  }

  seriesErrors(name: string): number {
    return this.totals.get(name)?.errors ?? 0;
  }

  seriesNames(): string[] {
    return [...this.totals.keys()];
  }

  /** Per turret label and series: transactions and errors. */
  turretSeries(): ReadonlyMap<string, ReadonlyMap<string, TurretCounts>> {
    return this.turrets;
  }

  /** The last `seconds` whole seconds before the current one. */
  window(seconds: number): WindowView {
    const now = this.currentSecond();
    const span = Math.min(seconds, this.slots.length - 1);
    const inWindow = this.slots.filter((s) => s.second >= now - span && s.second < now);
    return {
      seconds: span,
      transactions: inWindow.reduce((a, s) => a + s.transactions, 0),
      errors: inWindow.reduce((a, s) => a + s.errors, 0),
      series: (name) => {
        if (!this.watched.has(name)) return null;
        const out = { hist: new LatencyHistogram(), errors: 0 };
        for (const s of inWindow) {
          const part = s.series.get(name);
          if (part) {
            out.hist.add(part.hist);
            out.errors += part.errors;
          }
        }
        return out;
      },
    };
  }

  /** Transactions per second over the last few whole seconds (the current, partial one excluded). */
  ratePerSecond(): number {
    return this.window(RATE_SECONDS).transactions / RATE_SECONDS;
  }

  /** Every check evaluated so far (its series: evaluations, errors the failures). */
  checks(): LiveCheck[] {
    const out: LiveCheck[] = [];
    for (const [name, t] of this.totals) {
      if (!isCheckSeries(name) || t.hist.count === 0) continue;
      out.push({ name: checkName(name), passes: t.hist.count - t.errors, fails: t.errors, passRate: (t.hist.count - t.errors) / t.hist.count });
    }
    return out;
  }

  snapshot(): LiveSnapshot {
    const series: SeriesSnapshot[] = [];
    for (const [name, { hist: h, errors, counters }] of this.totals) {
      if (name !== ALL_TRANSACTIONS_SERIES && h.count === 0) continue;
      series.push({
        ...(counters ? { counters: { ...counters } } : {}),
        name,
        count: h.count,
        errors,
        mean: h.count ? h.mean : 0,
        min: h.count ? h.min : 0,
        p50: h.percentile(0.5) ?? 0,
        p90: h.percentile(0.9) ?? 0,
        p95: h.percentile(0.95) ?? 0,
        p99: h.percentile(0.99) ?? 0,
        max: h.count ? h.max : 0,
      });
    }
    const turrets: Record<string, TurretCounts> = {};
    for (const [label, bySeries] of this.turrets) turrets[label] = { ...(bySeries.get(ALL_TRANSACTIONS_SERIES) ?? { transactions: 0, errors: 0 }) };
    return {
      transactions: this.transactions,
      errors: this.errors,
      ratePerSecond: this.ratePerSecond(),
      series,
      turrets,
      refusedSeries: this.refusedSeries,
      checks: this.checks(),
    };
  }

  private seriesTotal(name: string): { hist: LatencyHistogram; errors: number; counters?: Counters } | null {
    let t = this.totals.get(name);
    if (t) return t;
    if (!RESERVED.has(name)) {
      if (this.timerSeries >= this.maxTimerSeries) return null;
      this.timerSeries++;
    }
    this.totals.set(name, (t = { hist: new LatencyHistogram(), errors: 0 }));
    return t;
  }

  private turretCounts(turret: TurretKey, series: string, n: number, errors: number): void {
    const label = turret.name || turret.uuid || UNNAMED_TURRET;
    let bySeries = this.turrets.get(label);
    if (!bySeries) this.turrets.set(label, (bySeries = new Map()));
    let c = bySeries.get(series);
    if (!c) bySeries.set(series, (c = { transactions: 0, errors: 0 }));
    c.transactions += n;
    c.errors += errors;
  }

  private currentSecond(): number {
    return Math.floor(this.clock.monotonic() / 1000);
  }

  private slot(): Slot {
    const second = this.currentSecond();
    const s = this.slots[second % this.slots.length]!;
    if (s.second !== second) {
      s.second = second;
      s.transactions = 0;
      s.errors = 0;
      s.series.clear();
    }
    return s;
  }
}
