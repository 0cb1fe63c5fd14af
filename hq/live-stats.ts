// Live aggregation for the progress line, /status and the end-of-run summary: counts per turret and
// per series, a recent rate, and one HDR histogram per series. Histograms, not averages, so a
// consumer can merge them (across turrets, across HQs) and still get right percentiles.
//
// Cardinality cap: at most `maxTimerSeries` distinct custom timer names get their own live series;
// later names are folded into one "other" series here. The store keeps every name unchanged, so
// the report is exact; only the live view is capped.
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { Clock } from '../common/clock.ts';
import { ALL_TRANSACTIONS_SERIES, type ResultBatch } from '../protocol/results.ts';

export const OTHER_SERIES = 'other';
export const UNNAMED_TURRET = 'unnamed';

/** Values are recorded in microseconds: 1 µs resolution up to an hour, 3 significant digits. */
const MICROS = 1e6;

function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600 * MICROS, numberOfSignificantValueDigits: 3, autoResize: true });
}

export interface SeriesSnapshot {
  name: string;
  count: number;
  /** Seconds. */
  mean: number;
  min: number;
  p50: number;
  p90: number;
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
  /** Custom timer names folded into "other" because the cap was reached. */
  foldedTimerNames: number;
}

export interface LiveStatsOptions {
  clock: Clock;
  maxTimerSeries?: number;
  /** Width of the window the recent rate is computed over. */
  rateWindowSeconds?: number;
}

export class LiveStats {
  transactions = 0;
  errors = 0;
  private readonly clock: Clock;
  private readonly maxTimerSeries: number;
  private readonly series = new Map<string, Histogram>();
  private readonly turrets = new Map<string, TurretCounts>();
  private readonly folded = new Set<string>();
  private timerSeries = 0;
  // Per-second buckets for the recent rate: a ring indexed by whole monotonic seconds.
  private readonly rateWindow: number;
  private readonly buckets: Float64Array;
  private readonly bucketSecond: Float64Array;

  constructor(opts: LiveStatsOptions) {
    this.clock = opts.clock;
    this.maxTimerSeries = opts.maxTimerSeries ?? 100;
    this.rateWindow = opts.rateWindowSeconds ?? 5;
    this.buckets = new Float64Array(this.rateWindow + 1);
    this.bucketSecond = new Float64Array(this.rateWindow + 1).fill(-1);
    this.series.set(ALL_TRANSACTIONS_SERIES, newHistogram());
  }

  add(batch: ResultBatch, turretName: string | null): void {
    const n = batch.count;
    if (n === 0) return;
    let errors = 0;
    const ei = batch.errorIndex;
    for (let i = 0; i < n; i++) if (ei[i]! >= 0) errors++;
    this.transactions += n;
    this.errors += errors;
    const key = turretName ?? UNNAMED_TURRET;
    let t = this.turrets.get(key);
    if (!t) this.turrets.set(key, (t = { transactions: 0, errors: 0 }));
    t.transactions += n;
    t.errors += errors;
    this.countRate(n);

    record(this.series.get(ALL_TRANSACTIONS_SERIES)!, batch.scriptrunTime, n);
    for (let k = 0; k < batch.timerNames.length; k++) record(this.timerHistogram(batch.timerNames[k]!), batch.timers[k]!, n);
  }

  /** Results per second over the last few whole seconds (the current, partial second excluded). */
  ratePerSecond(): number {
    const now = Math.floor(this.clock.monotonic() / 1000);
    let sum = 0;
    let seconds = 0;
    for (let s = now - this.rateWindow; s < now; s++) {
      const slot = ((s % this.buckets.length) + this.buckets.length) % this.buckets.length;
      if (this.bucketSecond[slot] === s) sum += this.buckets[slot]!;
      seconds++;
    }
    return seconds ? sum / seconds : 0;
  }

  /** A copy of one series' histogram (microseconds), for merging elsewhere. */
  histogram(name: string): Histogram | null {
    const h = this.series.get(name);
    if (!h) return null;
    const copy = newHistogram();
    copy.add(h);
    return copy;
  }

  snapshot(): LiveSnapshot {
    const series: SeriesSnapshot[] = [];
    for (const [name, h] of this.series) {
      if (name !== ALL_TRANSACTIONS_SERIES && h.totalCount === 0) continue;
      const s = (v: number) => v / MICROS;
      series.push({
        name,
        count: h.totalCount,
        mean: h.totalCount ? s(h.mean) : 0,
        min: h.totalCount ? s(h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue) : 0,
        p50: s(h.getValueAtPercentile(50)),
        p90: s(h.getValueAtPercentile(90)),
        p95: s(h.getValueAtPercentile(95)),
        p99: s(h.getValueAtPercentile(99)),
        max: s(h.maxValue),
      });
    }
    return {
      transactions: this.transactions,
      errors: this.errors,
      ratePerSecond: this.ratePerSecond(),
      series,
      turrets: Object.fromEntries([...this.turrets].map(([k, v]) => [k, { ...v }])),
      foldedTimerNames: this.folded.size,
    };
  }

  private timerHistogram(name: string): Histogram {
    let h = this.series.get(name);
    if (h && name !== ALL_TRANSACTIONS_SERIES) return h;
    if (this.timerSeries < this.maxTimerSeries && name !== ALL_TRANSACTIONS_SERIES && name !== OTHER_SERIES) {
      h = newHistogram();
      this.series.set(name, h);
      this.timerSeries++;
      return h;
    }
    this.folded.add(name);
    if (this.folded.size > 10_000) this.folded.clear(); // only a count for display; keep memory bounded
    let other = this.series.get(OTHER_SERIES);
    if (!other) this.series.set(OTHER_SERIES, (other = newHistogram()));
    return other;
  }

  private countRate(n: number): void {
    const s = Math.floor(this.clock.monotonic() / 1000);
    const slot = s % this.buckets.length;
    if (this.bucketSecond[slot] !== s) {
      this.bucketSecond[slot] = s;
      this.buckets[slot] = 0;
    }
    this.buckets[slot]! += n;
  }
}

function record(h: Histogram, col: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = col[i]!;
    // NaN marks "timer not set this iteration"; negative times are clock noise, not data.
    if (v >= 0) h.recordValue(Math.round(v * MICROS));
  }
}
