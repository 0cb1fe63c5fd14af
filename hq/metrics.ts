// The HQ's Prometheus metrics. The HQ reports through HqMetricsHooks; this class keeps the numbers
// in plain arrays and hands them to its own prom-client Registry at scrape time. observeBatch runs
// on the socket loop at 200k+ results/s, so it counts histogram buckets itself in one pass over the
// batch's columns instead of calling prom-client once per result (see docs/metrics.md for the
// measured cost of each).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { type Clock, systemClock } from '../common/clock.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { MALFORMED_KINDS, type MalformedKind, type TurretHealth, type TurretState } from '../protocol/incoming.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { RunState } from '../store/types.ts';
import { BucketCounts, CollectedMetric, type Sample } from './metrics-collected.ts';
import type { HqMetricsHooks, WriterStats } from './metrics-hooks.ts';
import { SaturationTracker } from './metrics-saturation.ts';

/** Web latencies: 1 ms to 1 min, denser where most requests land (10 ms – 1 s). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];

const RUN_STATES: RunState[] = ['waiting', 'running', 'draining', 'finished', 'failed'];
const TURRET_STATES: TurretState[] = ['ready', 'running', 'stopping', 'aborted', 'killed', 'lost', 'unknown'];
const MESSAGE_TYPES = ['results', 'status', 'malformed', 'duplicate'] as const;
type MessageType = (typeof MESSAGE_TYPES)[number];

export const SERIES_ALL = 'all';
export const SERIES_OTHER = 'other';
export const TURRET_OTHER = 'other';
export const TURRET_UNNAMED = 'unnamed';

export interface HqMetricsOptions {
  log?: Logger;
  clock?: Clock;
  /** Distinct custom timer names with their own series; later names share series="other". */
  maxTimerSeries?: number;
  /** Distinct turret label values; later turrets share turret="other". */
  maxTurrets?: number;
  buckets?: number[];
  saturationThreshold?: number;
  saturationSeconds?: number;
  /** Window of the current-throughput gauge. */
  rateWindowSeconds?: number;
}

interface TurretCounters {
  tx: number[];
  err: number[];
}

interface HealthRow {
  name: string;
  health: TurretHealth;
  saturated: boolean;
}

/** Transactions per whole second over a sliding window, for the throughput gauge. */
class RateWindow {
  private readonly slots: Float64Array;
  private currentSec = -1;
  private firstSec = -1;

  constructor(private readonly windowSeconds: number) {
    this.slots = new Float64Array(windowSeconds + 1);
  }

  private advance(sec: number): void {
    if (this.firstSec < 0) this.firstSec = sec;
    if (this.currentSec < 0) this.currentSec = sec;
    const steps = Math.min(sec - this.currentSec, this.slots.length);
    for (let s = 1; s <= steps; s++) this.slots[(this.currentSec + s) % this.slots.length] = 0;
    if (sec > this.currentSec) this.currentSec = sec;
  }

  add(n: number, nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    this.advance(sec);
    this.slots[sec % this.slots.length]! += n;
  }

  /** Mean over the last complete seconds (the running second is partial and left out). */
  rate(nowMs: number): number {
    if (this.firstSec < 0) return 0;
    const sec = Math.floor(nowMs / 1000);
    this.advance(sec);
    const full = Math.min(this.windowSeconds, sec - this.firstSec);
    if (full <= 0) return 0;
    let total = 0;
    for (let s = 1; s <= full; s++) total += this.slots[(sec - s) % this.slots.length]!;
    return total / full;
  }
}

export class HqMetrics implements HqMetricsHooks {
  readonly registry = new Registry();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly maxTimerSeries: number;
  private readonly maxTurrets: number;
  private readonly bounds: Float64Array;

  private readonly seriesNames: string[] = [SERIES_ALL];
  /** Series label → index. */
  private readonly seriesIndex = new Map<string, number>([[SERIES_ALL, 0]]);
  /** Custom timer name → series index (names past the cap and reserved names differ from their label). */
  private readonly timerSeries = new Map<string, number>();
  private readonly hist: BucketCounts[];
  private readonly turrets = new Map<string, TurretCounters>();
  private readonly rate: RateWindow;
  private readonly saturation: SaturationTracker;
  private readonly health = new Map<string, HealthRow>();

  private readonly messages: Record<MessageType, number> = { results: 0, status: 0, malformed: 0, duplicate: 0 };
  private readonly malformedByKind = new Map<MalformedKind, number>(MALFORMED_KINDS.map((k) => [k, 0]));
  private transactions = 0;
  private errors = 0;
  private droppedResults = 0;
  private runState: RunState = 'waiting';
  private elapsedSeconds = 0;
  private turretsByState: Record<TurretState, number> = Object.fromEntries(TURRET_STATES.map((s) => [s, 0])) as Record<TurretState, number>;
  private canonsRunning = 0;
  private writer: WriterStats = { queuedRows: 0, spilledRows: 0, writtenRows: 0, inFlightRows: 0, lagSeconds: 0, failedWrites: 0 };
  private elu = performance.eventLoopUtilization();

  constructor(opts: HqMetricsOptions = {}) {
    this.log = opts.log ?? createLogger();
    this.clock = opts.clock ?? systemClock;
    this.maxTimerSeries = opts.maxTimerSeries ?? 50;
    this.maxTurrets = opts.maxTurrets ?? 100;
    this.bounds = Float64Array.from(opts.buckets ?? LATENCY_BUCKETS);
    this.hist = [new BucketCounts(this.bounds)];
    this.rate = new RateWindow(opts.rateWindowSeconds ?? 5);
    this.saturation = new SaturationTracker({ threshold: opts.saturationThreshold ?? 0.9, seconds: opts.saturationSeconds ?? 5 }, this.log);
    this.registerAll();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  /** Totals for the live line, so the CLI does not parse its own exposition. */
  totals(): { transactions: number; errors: number; ratePerSecond: number; malformed: number; dropped: number; saturatedTurrets: number } {
    return {
      transactions: this.transactions,
      errors: this.errors,
      ratePerSecond: this.rate.rate(this.clock.monotonic()),
      malformed: this.messages.malformed,
      dropped: this.droppedResults,
      saturatedTurrets: this.saturation.saturatedCount(),
    };
  }

  // ---- hooks -------------------------------------------------------------------------------------

  observeBatch(batch: ResultBatch, turretName: string | null): void {
    this.messages.results++;
    const n = batch.count;
    if (n === 0) return;
    const t = this.turretCounters(turretName);
    const bounds = this.bounds;
    const nb = bounds.length;
    const errIdx = batch.errorIndex;

    // The "all" series: every transaction, timed by scriptrun_time.
    {
      const h = this.hist[0]!;
      const counts = h.counts;
      const col = batch.scriptrunTime;
      let sum = 0;
      let errs = 0;
      for (let i = 0; i < n; i++) {
        const v = col[i]!;
        let b = 0;
        while (b < nb && v > bounds[b]!) b++;
        counts[b]!++;
        sum += v;
        if (errIdx[i]! >= 0) errs++;
      }
      h.sum += sum;
      h.count += n;
      t.tx[0] += n;
      t.err[0] += errs;
      this.transactions += n;
      this.errors += errs;
    }

    for (let k = 0; k < batch.timerNames.length; k++) {
      const s = this.seriesFor(batch.timerNames[k]!);
      const h = this.hist[s]!;
      const counts = h.counts;
      const col = batch.timers[k]!;
      let sum = 0;
      let seen = 0;
      let errs = 0;
      for (let i = 0; i < n; i++) {
        const v = col[i]!;
        if (Number.isNaN(v)) continue; // NaN: timer not set in this iteration
        let b = 0;
        while (b < nb && v > bounds[b]!) b++;
        counts[b]!++;
        sum += v;
        seen++;
        if (errIdx[i]! >= 0) errs++;
      }
      h.sum += sum;
      h.count += seen;
      t.tx[s] = (t.tx[s] ?? 0) + seen;
      t.err[s] = (t.err[s] ?? 0) + errs;
    }
    this.rate.add(n, this.clock.monotonic());
  }

  malformed(kind: MalformedKind): void {
    this.messages.malformed++;
    this.malformedByKind.set(kind, (this.malformedByKind.get(kind) ?? 0) + 1);
  }

  duplicate(): void {
    this.messages.duplicate++;
  }

  statusReceived(): void {
    this.messages.status++;
  }

  setRunState(state: RunState, elapsedSeconds: number): void {
    this.runState = state;
    this.elapsedSeconds = elapsedSeconds;
  }

  setTurrets(byState: Record<TurretState, number>, canonsRunning: number): void {
    for (const s of TURRET_STATES) this.turretsByState[s] = byState[s] ?? 0;
    this.canonsRunning = canonsRunning;
  }

  setWriter(stats: WriterStats): void {
    this.writer = { ...stats };
  }

  turretHealth(name: string, uuid: string, health: TurretHealth): void {
    const saturated = this.saturation.update(name, uuid, health, this.clock.monotonic());
    // Past the cap, a turret is still watched for saturation (and logged) but gets no series.
    if (this.health.has(uuid) || this.health.size < this.maxTurrets) this.health.set(uuid, { name, health, saturated });
  }

  dropped(n: number): void {
    if (n > 0) this.droppedResults += n;
  }

  // ---- label bounding ----------------------------------------------------------------------------

  private seriesFor(timer: string): number {
    let s = this.timerSeries.get(timer);
    if (s !== undefined) return s;
    // A custom timer named like a reserved series gets a prefix instead of merging into it.
    const label = timer === SERIES_ALL || timer === SERIES_OTHER ? `timer_${timer}` : timer;
    s = this.seriesIndex.get(label);
    if (s === undefined) {
      const custom = this.seriesNames.length - 1 - (this.seriesIndex.has(SERIES_OTHER) ? 1 : 0);
      if (custom < this.maxTimerSeries) {
        s = this.addSeries(label);
      } else {
        s = this.seriesIndex.get(SERIES_OTHER) ?? this.addSeries(SERIES_OTHER);
        this.log.warn('custom timer series cap reached; further timer names are counted as series="other"', { timer, cap: this.maxTimerSeries });
      }
    }
    this.timerSeries.set(timer, s);
    return s;
  }

  private addSeries(label: string): number {
    const s = this.seriesNames.length;
    this.seriesNames.push(label);
    this.seriesIndex.set(label, s);
    this.hist.push(new BucketCounts(this.bounds));
    return s;
  }

  private turretCounters(name: string | null): TurretCounters {
    const key = name === null || name === '' ? TURRET_UNNAMED : name;
    let t = this.turrets.get(key);
    if (t) return t;
    if (this.turrets.size >= this.maxTurrets && !this.turrets.has(TURRET_OTHER)) {
      this.log.warn('turret label cap reached; further turrets are counted as turret="other"', { turret: key, cap: this.maxTurrets });
    }
    const label = this.turrets.size >= this.maxTurrets ? TURRET_OTHER : key;
    t = this.turrets.get(label);
    if (!t) this.turrets.set(label, (t = { tx: [0], err: [0] }));
    // Later batches from this turret find it directly.
    if (label !== key && this.turrets.size < this.maxTurrets * 4) this.turrets.set(key, t);
    return t;
  }

  // ---- exposition --------------------------------------------------------------------------------

  private registerAll(): void {
    const r = this.registry;
    const m = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', collect: () => Sample[]) =>
      new CollectedMetric(name, help, type, collect).register(r);
    const byTurretSeries = (pick: (t: TurretCounters) => number[]) => () => {
      const out: Sample[] = [];
      const seen = new Set<TurretCounters>();
      for (const [turret, t] of this.turrets) {
        // Turrets past the cap alias the "other" counters; report those once.
        if (seen.has(t)) continue;
        seen.add(t);
        const values = pick(t);
        for (let s = 0; s < this.seriesNames.length; s++) {
          if ((t.tx[s] ?? 0) === 0 && s !== 0) continue;
          out.push({ labels: { turret: this.turretLabel(turret, t), series: this.seriesNames[s]! }, value: values[s] ?? 0 });
        }
      }
      return out;
    };
    m(
      'oct_transactions_total',
      'Transactions received, by turret and series (series="all": every transaction; else one per custom timer).',
      'counter',
      byTurretSeries((t) => t.tx),
    );
    m(
      'oct_errors_total',
      'Transactions that ended in an error, by turret and series.',
      'counter',
      byTurretSeries((t) => t.err),
    );
    m('oct_transaction_duration_seconds', 'Duration of transactions (series="all": scriptrun_time) and of custom timers, seconds.', 'histogram', () =>
      this.hist.flatMap((h, s) => (s === 0 || h.count > 0 ? h.samples('oct_transaction_duration_seconds', { series: this.seriesNames[s]! }) : [])),
    );
    m(
      'oct_throughput_transactions_per_second',
      'Transactions per second over the last few seconds (a gauge for the live view; use rate(oct_transactions_total) in PromQL).',
      'gauge',
      () => [{ value: this.rate.rate(this.clock.monotonic()) }],
    );
    m('oct_canons_running', 'Canons running across all turrets.', 'gauge', () => [{ value: this.canonsRunning }]);
    m('oct_turrets', 'Turrets by state.', 'gauge', () => TURRET_STATES.map((s) => ({ labels: { state: s }, value: this.turretsByState[s] })));
    m('oct_run_state', 'The test run state: 1 for the current state, 0 for the others.', 'gauge', () =>
      RUN_STATES.map((s) => ({ labels: { state: s }, value: s === this.runState ? 1 : 0 })),
    );
    m('oct_run_elapsed_seconds', 'Seconds since the test started (0 before the start).', 'gauge', () => [{ value: this.elapsedSeconds }]);
    m('oct_messages_received_total', 'Messages received on the PULL socket, by type.', 'counter', () =>
      MESSAGE_TYPES.map((t) => ({ labels: { type: t }, value: this.messages[t] })),
    );
    m('oct_malformed_messages_total', 'Messages rejected as malformed, by kind.', 'counter', () =>
      MALFORMED_KINDS.map((k) => ({ labels: { kind: k }, value: this.malformedByKind.get(k) ?? 0 })),
    );
    m('oct_duplicate_batches_total', 'Result batches received twice (same turret and seq) and counted once.', 'counter', () => [
      { value: this.messages.duplicate },
    ]);
    m('oct_results_dropped_total', 'Results the HQ received but could not keep. Must stay 0.', 'counter', () => [{ value: this.droppedResults }]);
    m('oct_store_queue_rows', 'Rows waiting in memory for the store writer.', 'gauge', () => [{ value: this.writer.queuedRows }]);
    m('oct_store_spilled_rows', 'Rows waiting in the spill file because the store fell behind.', 'gauge', () => [{ value: this.writer.spilledRows }]);
    m('oct_store_in_flight_rows', 'Rows in the store write currently running.', 'gauge', () => [{ value: this.writer.inFlightRows }]);
    m('oct_store_write_lag_seconds', 'Age of the oldest row not yet written to the store, seconds.', 'gauge', () => [{ value: this.writer.lagSeconds }]);
    m('oct_store_rows_written_total', 'Rows written to the results store.', 'counter', () => [{ value: this.writer.writtenRows }]);
    m('oct_store_failed_writes_total', 'Store writes that failed (then retried or spilled).', 'counter', () => [{ value: this.writer.failedWrites }]);
    const health = (pick: (h: HealthRow) => number | undefined) => () => {
      const out: Sample[] = [];
      for (const [uuid, h] of this.health) {
        const v = pick(h);
        if (v !== undefined) out.push({ labels: { turret: h.name, uuid }, value: v });
      }
      return out;
    };
    m(
      'oct_turret_event_loop_utilization_ratio',
      'Event-loop utilisation reported by each turret, 0..1.',
      'gauge',
      health((h) => h.health.elu),
    );
    m(
      'oct_turret_cpu_cores',
      'CPU used by each turret process, in cores (1 = one core busy).',
      'gauge',
      health((h) => h.health.cpu),
    );
    m(
      'oct_turret_event_loop_lag_seconds',
      'Event-loop lag (p99) reported by each turret, seconds.',
      'gauge',
      health((h) => (h.health.lagMs === undefined ? undefined : h.health.lagMs / 1000)),
    );
    m(
      'oct_turret_saturated',
      '1 while a turret has been above the saturation threshold (ELU or CPU) for the configured time.',
      'gauge',
      health((h) => (h.saturated ? 1 : 0)),
    );
    m('oct_turrets_saturated', 'Turrets currently saturated.', 'gauge', () => [{ value: this.saturation.saturatedCount() }]);
    m('oct_hq_event_loop_utilization_ratio', "The HQ's own event-loop utilisation since the previous scrape, 0..1.", 'gauge', () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, this.elu);
      this.elu = now;
      return [{ value: delta.utilization }];
    });
  }

  private turretLabel(key: string, t: TurretCounters): string {
    const other = this.turrets.get(TURRET_OTHER);
    return other === t ? TURRET_OTHER : key;
  }
}

/** The `/metrics` handler to mount on the HQ's HTTP server. */
export function metricsRoute(metrics: HqMetrics): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    try {
      const body = await metrics.metricsText();
      res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`);
    }
  };
}
