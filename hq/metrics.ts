// The HQ's Prometheus metrics. Counts and latencies are not counted here: they are read, at scrape
// time, from the run's one statistics engine (hq/aggregator.ts), so /metrics, the live line,
// /status and the report cannot disagree. What only this class knows — messages by type, run and
// turret states, the writer, turret health — the HQ reports through HqMetricsHooks.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { type Clock, systemClock } from '../common/clock.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { MALFORMED_KINDS, type MalformedKind, RUN_STATES, TURRET_STATES, type TurretHealth, type TurretState } from '../protocol/incoming.ts';
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import type { RunState } from '../store/types.ts';
import type { Aggregator, TurretCounts } from './aggregator.ts';
import { CollectedMetric, histogramSamples, type Sample } from './metrics-collected.ts';
import {
  HANDSHAKE_FAILURES,
  HANDSHAKE_SOCKETS,
  type HandshakeFailure,
  type HandshakeSocket,
  type HqMetricsHooks,
  REJECT_REASONS,
  type RejectReason,
  type WriterStats,
} from './metrics-hooks.ts';
import { SaturationTracker } from './metrics-saturation.ts';

/** Web latencies: 1 ms to 1 min, denser where most requests land (10 ms – 1 s). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60];

const MESSAGE_TYPES = ['results', 'aggregate', 'status', 'malformed', 'duplicate'] as const;
type MessageType = (typeof MESSAGE_TYPES)[number];

export const TURRET_OTHER = 'other';

export interface HqMetricsOptions {
  log?: Logger;
  clock?: Clock;
  /** Distinct turret label values; later turrets share turret="other". */
  maxTurrets?: number;
  buckets?: number[];
  saturationThreshold?: number;
  saturationSeconds?: number;
}

interface HealthRow {
  name: string;
  health: TurretHealth;
  saturated: boolean;
}

export class HqMetrics implements HqMetricsHooks {
  readonly registry = new Registry();
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly maxTurrets: number;
  private readonly bounds: Float64Array;
  private stats: Aggregator | null = null;
  private readonly saturation: SaturationTracker;
  private readonly health = new Map<string, HealthRow>();

  private readonly messages: Record<MessageType, number> = { results: 0, aggregate: 0, status: 0, malformed: 0, duplicate: 0 };
  private readonly malformedByKind = new Map<MalformedKind, number>(MALFORMED_KINDS.map((k) => [k, 0]));
  private droppedResults = 0;
  private readonly rejectedByReason = new Map<RejectReason, number>(REJECT_REASONS.map((r) => [r, 0]));
  private readonly rejectedHandshakes = new Map<string, number>();
  private runState: RunState = 'waiting';
  private elapsedSeconds = 0;
  private turretsByState: Record<TurretState, number> = Object.fromEntries(TURRET_STATES.map((s) => [s, 0])) as Record<TurretState, number>;
  private canonsRunning = 0;
  private writer: WriterStats = { queuedRows: 0, spilledRows: 0, writtenRows: 0, inFlightRows: 0, lagSeconds: 0, failedWrites: 0 };
  private elu = performance.eventLoopUtilization();

  constructor(opts: HqMetricsOptions = {}) {
    this.log = opts.log ?? createLogger();
    this.clock = opts.clock ?? systemClock;
    this.maxTurrets = opts.maxTurrets ?? 100;
    this.bounds = Float64Array.from(opts.buckets ?? LATENCY_BUCKETS);
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
      transactions: this.stats?.transactions ?? 0,
      errors: this.stats?.errors ?? 0,
      ratePerSecond: this.stats?.ratePerSecond() ?? 0,
      malformed: this.messages.malformed,
      dropped: this.droppedResults,
      saturatedTurrets: this.saturation.saturatedCount(),
    };
  }

  // ---- hooks -------------------------------------------------------------------------------------

  attach(stats: Aggregator): void {
    this.stats = stats;
  }

  observeBatch(): void {
    this.messages.results++;
  }

  aggregateReceived(): void {
    this.messages.aggregate++;
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

  /** Whether the turret has been above the saturation threshold for the configured time (the dashboard's warning). */
  saturated(uuid: string): boolean {
    return this.saturation.isSaturated(uuid);
  }

  turretHealth(name: string, uuid: string, health: TurretHealth): void {
    const saturated = this.saturation.update(name, uuid, health, this.clock.monotonic());
    // Past the cap, a turret is still watched for saturation (and logged) but gets no series.
    if (this.health.has(uuid) || this.health.size < this.maxTurrets) this.health.set(uuid, { name, health, saturated });
  }

  dropped(n: number): void {
    if (n > 0) this.droppedResults += n;
  }

  rejected(reason: RejectReason): void {
    this.rejectedByReason.set(reason, (this.rejectedByReason.get(reason) ?? 0) + 1);
  }

  rejectedHandshake(socket: HandshakeSocket, reason: HandshakeFailure): void {
    const key = `${socket}/${reason}`;
    this.rejectedHandshakes.set(key, (this.rejectedHandshakes.get(key) ?? 0) + 1);
  }

  // ---- exposition --------------------------------------------------------------------------------

  private registerAll(): void {
    const r = this.registry;
    const m = (name: string, help: string, type: 'counter' | 'gauge' | 'histogram', collect: () => Sample[]) =>
      new CollectedMetric(name, help, type, collect).register(r);
    // Turret labels are bounded: past the cap, turrets share turret="other" (their counts add up there).
    const byTurretSeries = (pick: (c: TurretCounts) => number) => () => {
      const out: Sample[] = [];
      if (!this.stats) return out;
      const other = new Map<string, number>();
      let turrets = 0;
      for (const [turret, bySeries] of this.stats.turretSeries()) {
        const own = turrets++ < this.maxTurrets;
        for (const [series, c] of bySeries) {
          if (own) out.push({ labels: { turret, series }, value: pick(c) });
          else other.set(series, (other.get(series) ?? 0) + pick(c));
        }
      }
      for (const [series, value] of other) out.push({ labels: { turret: TURRET_OTHER, series }, value });
      return out;
    };
    m(
      'oct_transactions_total',
      `Transactions received, by turret and series (series="${ALL_TRANSACTIONS_SERIES}": every transaction; else one per custom timer).`,
      'counter',
      byTurretSeries((c) => c.transactions),
    );
    m(
      'oct_errors_total',
      'Transactions that ended in an error, by turret and series.',
      'counter',
      byTurretSeries((c) => c.errors),
    );
    m(
      'oct_transaction_duration_seconds',
      `Duration of transactions (series="${ALL_TRANSACTIONS_SERIES}": run() time) and of custom timers, seconds.`,
      'histogram',
      () => {
        const stats = this.stats;
        if (!stats) return [];
        return stats.seriesNames().flatMap((series) => {
          const h = stats.series(series)!;
          return series === ALL_TRANSACTIONS_SERIES || h.count > 0 ? histogramSamples('oct_transaction_duration_seconds', { series }, h, this.bounds) : [];
        });
      },
    );
    m(
      'oct_throughput_transactions_per_second',
      'Transactions per second over the last few seconds (a gauge for the live view; use rate(oct_transactions_total) in PromQL).',
      'gauge',
      () => [{ value: this.stats?.ratePerSecond() ?? 0 }],
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
    m(
      'oct_rejected_messages_total',
      'Well-formed messages refused because their sender may not speak for them (CURVE: a uuid of another turret key, no proof), by reason.',
      'counter',
      () => REJECT_REASONS.map((reason) => ({ labels: { reason }, value: this.rejectedByReason.get(reason) ?? 0 })),
    );
    m(
      'oct_rejected_handshakes_total',
      'Connections refused at the ZeroMQ handshake (CURVE: no key, or a key the HQ does not trust), by socket and reason.',
      'counter',
      () =>
        HANDSHAKE_SOCKETS.flatMap((socket) =>
          HANDSHAKE_FAILURES.map((reason) => ({ labels: { socket, reason }, value: this.rejectedHandshakes.get(`${socket}/${reason}`) ?? 0 })),
        ),
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
