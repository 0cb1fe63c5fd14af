// Results in memory: one columnar batch type for every way results arrive (a legacy single-result
// frame, an oct JSON batch, an oct binary batch), so the aggregator and the store writer never see
// per-result objects on the hot path.
import { MAX_LATENCY_SECONDS } from './histogram.ts';

/** The series of every transaction's run() time, by this one name in the live view, the report and thresholds. */
export const ALL_TRANSACTIONS_SERIES = 'All transactions';

/**
 * The custom timer oct's turret adds to every scheduled iteration (open model, closed with pacing):
 * seconds from the iteration's intended start to the end of run(), so time spent waiting behind a
 * stalled target counts (coordinated omission). scriptrun_time stays the service time.
 */
export const INTENDED_LATENCY_SERIES = 'All transactions (from intended start)';

// What a result's values may be (docs/protocol.md, "Bad input"). A value beyond them is a broken
// clock or a forged message, never a measurement, and storing it would break the run's report (one
// elapsed of 1e308 made its bins overflow an integer; one run() time of 1e300 its mean). Every bound
// is one the store's float8 columns and the report's arithmetic hold with room to spare.

/**
 * How far below 0 a time may be: a wall clock stepped back mid-iteration (NTP, the original turret
 * times with time.time()). Such a time is taken as 0, as the aggregates always counted it, so the
 * stored rows and the aggregates agree (a report from either gives the same counts).
 */
export const CLOCK_TOLERANCE_SECONDS = 1;
/** Longest `elapsed`, seconds (~116 days): the last second an aggregate or a load report may name too. */
export const MAX_ELAPSED_SECONDS = 10_000_000;
/** Longest run() time or custom timer, seconds: a day, as histograms (MAX_LATENCY_SECONDS). */
export const MAX_DURATION_SECONDS = MAX_LATENCY_SECONDS;
/** How far a result's `epoch` may be from the HQ's clock, seconds: a day covers any real clock skew. */
export const MAX_EPOCH_SKEW_SECONDS = 86_400;

/** Where a result's values are checked: `nowSeconds` is the receiver's clock (epoch is not checked without it). */
export interface ResultLimits {
  nowSeconds?: number;
}

const outside = (v: number, max: number) => !(v >= -CLOCK_TOLERANCE_SECONDS && v <= max);

/** A time within the bounds as stored: a clock step below 0 is 0. */
export const clockStepped = (v: number): number => Math.max(0, v);

/** Why a result's (finite) times are out of range, or null when they are in range. */
export function resultTimesProblem(elapsed: number, epoch: number, scriptrunTime: number, limits: ResultLimits): string | null {
  if (outside(elapsed, MAX_ELAPSED_SECONDS)) return `"elapsed" ${elapsed} is outside -${CLOCK_TOLERANCE_SECONDS}..${MAX_ELAPSED_SECONDS} s`;
  if (outside(scriptrunTime, MAX_DURATION_SECONDS))
    return `"scriptrun_time" ${scriptrunTime} is outside -${CLOCK_TOLERANCE_SECONDS}..${MAX_DURATION_SECONDS} s`;
  const now = limits.nowSeconds;
  if (now !== undefined && !(Math.abs(epoch - now) <= MAX_EPOCH_SKEW_SECONDS))
    return `"epoch" ${epoch} is more than ${MAX_EPOCH_SKEW_SECONDS} s from the HQ's clock (${now})`;
  return null;
}

/** Why a (finite) custom timer value is out of range, or null. */
export function timerProblem(name: string, v: number): string | null {
  return outside(v, MAX_DURATION_SECONDS) ? `custom timer "${name.slice(0, 64)}" ${v} is outside -${CLOCK_TOLERANCE_SECONDS}..${MAX_DURATION_SECONDS} s` : null;
}

export interface ResultBatch {
  /** The sending turret's uuid, when known (oct batches carry it; legacy results do not). */
  turretUuid: string | null;
  /** The sending turret's name, when known (legacy results usually lack it). */
  turretName: string | null;
  /** oct turrets number their batches per turret from 1; null for legacy results. */
  seq: number | null;
  /** The sender counted these results in its aggregate messages too (oct turrets): not to be counted again. */
  preAggregated?: boolean;
  count: number;
  /** Seconds since the turret received `start`. */
  elapsed: Float64Array;
  /** Unix time in seconds (legacy turrets send whole seconds). */
  epoch: Float64Array;
  /** Seconds spent in run() only. */
  scriptrunTime: Float64Array;
  /** Index into `errors`, or -1 for a success. */
  errorIndex: Int32Array;
  /** Distinct error texts of this batch. */
  errors: string[];
  /** Custom timer names, and per name one column of seconds (NaN where not set that iteration). */
  timerNames: string[];
  timers: Float64Array[];
}

export interface ResultRow {
  elapsed: number;
  epoch: number;
  scriptrunTime: number;
  /** null for a success; a failure always has a non-empty text. */
  error: string | null;
  customTimers: Record<string, number>;
}

/** Builds a batch row by row: used by oct's turret and by the legacy/JSON parsers. */
export class ResultBatchBuilder {
  private elapsed: number[] = [];
  private epoch: number[] = [];
  private scriptrun: number[] = [];
  private errorIdx: number[] = [];
  private errors: string[] = [];
  private errorLookup = new Map<string, number>();
  private timerCols = new Map<string, number[]>();

  get count(): number {
    return this.elapsed.length;
  }

  add(row: ResultRow): void {
    const i = this.elapsed.length;
    this.elapsed.push(row.elapsed);
    this.epoch.push(row.epoch);
    this.scriptrun.push(row.scriptrunTime);
    if (row.error === null) {
      this.errorIdx.push(-1);
    } else {
      let idx = this.errorLookup.get(row.error);
      if (idx === undefined) {
        idx = this.errors.length;
        this.errors.push(row.error);
        this.errorLookup.set(row.error, idx);
      }
      this.errorIdx.push(idx);
    }
    for (const name in row.customTimers) {
      let col = this.timerCols.get(name);
      if (!col) {
        col = new Array<number>(i).fill(NaN);
        this.timerCols.set(name, col);
      }
      col.push(row.customTimers[name]!);
    }
    for (const col of this.timerCols.values()) if (col.length === i) col.push(NaN);
  }

  build(meta: { turretUuid: string | null; turretName: string | null; seq: number | null }): ResultBatch {
    const batch: ResultBatch = {
      ...meta,
      count: this.elapsed.length,
      elapsed: Float64Array.from(this.elapsed),
      epoch: Float64Array.from(this.epoch),
      scriptrunTime: Float64Array.from(this.scriptrun),
      errorIndex: Int32Array.from(this.errorIdx),
      errors: this.errors,
      timerNames: [...this.timerCols.keys()],
      timers: [...this.timerCols.values()].map((c) => Float64Array.from(c)),
    };
    this.reset();
    return batch;
  }

  reset(): void {
    this.elapsed = [];
    this.epoch = [];
    this.scriptrun = [];
    this.errorIdx = [];
    this.errors = [];
    this.errorLookup = new Map();
    this.timerCols = new Map();
  }
}

/** Row view of a batch, for tests and cold paths (CSV, debugging): never on the ingest path. */
export function batchRows(batch: ResultBatch): ResultRow[] {
  const rows: ResultRow[] = [];
  for (let i = 0; i < batch.count; i++) {
    const customTimers: Record<string, number> = {};
    batch.timerNames.forEach((name, k) => {
      const v = batch.timers[k]![i]!;
      if (!Number.isNaN(v)) customTimers[name] = v;
    });
    const e = batch.errorIndex[i]!;
    rows.push({
      elapsed: batch.elapsed[i]!,
      epoch: batch.epoch[i]!,
      scriptrunTime: batch.scriptrunTime[i]!,
      error: e < 0 ? null : batch.errors[e]!,
      customTimers,
    });
  }
  return rows;
}

/** The failed results of a batch only (results_storage: errors); the batch itself when all failed. */
export function failedOnly(batch: ResultBatch): ResultBatch {
  const keep: number[] = [];
  for (let i = 0; i < batch.count; i++) if (batch.errorIndex[i]! >= 0) keep.push(i);
  if (keep.length === batch.count) return batch;
  const pick = (col: Float64Array) => Float64Array.from(keep, (i) => col[i]!);
  return {
    ...batch,
    count: keep.length,
    elapsed: pick(batch.elapsed),
    epoch: pick(batch.epoch),
    scriptrunTime: pick(batch.scriptrunTime),
    errorIndex: Int32Array.from(keep, (i) => batch.errorIndex[i]!),
    timers: batch.timers.map(pick),
  };
}
