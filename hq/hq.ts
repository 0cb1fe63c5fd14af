// The HQ: binds the orders PUB and the results PULL, runs the socket loop, and drives one run
// through its lifecycle. `oct run` (local) and `oct hq` (Kubernetes) both build on this class.
import { randomUUID } from 'node:crypto';
import type { DataSet } from '../protocol/data-file.ts';
import { DataSplitter } from './data-split.ts';
import { hostname } from 'node:os';
import * as zmq from 'zeromq';
import { type Clock, systemClock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ProjectConfig } from '../protocol/config.ts';
import type { TurretHealth, TurretState } from '../protocol/incoming.ts';
import { type LoadModel, targetAt } from '../protocol/load-plan.ts';
import { orders } from '../protocol/orders.ts';
import { AggregateWriter } from '../store/aggregate-writer.ts';
import { ResultWriter } from '../store/result-writer.ts';
import type { DeliveredSeq, RunInfo, Store } from '../store/types.ts';
import { CouldNotBindError } from './bind-error.ts';
import type { HqKeys } from '../common/keys-dir.ts';
import { CurveGuard } from './curve-guard.ts';
import { Broadcaster } from './broadcaster.ts';
import { DeliveryTracker } from './delivery.ts';
import { Ingest, type ResultSink } from './ingest.ts';
import { Intake } from './intake.ts';
import { type Breach, LiveThresholds } from './live-thresholds.ts';
import { parseThresholds } from '../report/thresholds.ts';
import { Lifecycle, type Progress, type RunCounts } from './lifecycle.ts';
import { Aggregator, type LiveSnapshot } from './aggregator.ts';
import { LoadPlanner, loadSpecOf } from './load-planner.ts';
import { LoadTimeline } from './load-timeline.ts';
import { type HqMetricsHooks, noMetrics, type WriterStats } from './metrics-hooks.ts';
import { SequenceTracker } from './sequence-tracker.ts';
import { StatusRecorder } from './status-recorder.ts';
import { TurretRegistry } from './turret-registry.ts';

export type { Progress } from './lifecycle.ts';

export interface HqOptions {
  config: ProjectConfig;
  store: Store;
  runName: string;
  log: Logger;
  clock?: Clock;
  /** Default '0.0.0.0'; local runs pass '127.0.0.1'. */
  bindHost?: string;
  /** Where the ResultWriter spills when the store falls behind. */
  spillDir: string;
  metrics?: HqMetricsHooks;
  /** Called about once a second, and on every phase change. */
  onProgress?: (p: Progress) => void;
  /** How long the store writer may take to catch up after the run (default 120 s). */
  drainTimeoutMs?: number;
  /** Live series cap: custom timer names beyond it share the "other" live series (default 100). */
  maxTimerSeries?: number;
  /** CURVE on both sockets, admitting only these turret keys; absent: plaintext (HqService decides). */
  curve?: HqKeys;
  /** The project's data file (common/project.ts), split over the turrets' canons. */
  data?: DataSet | null;
  /** Replaces the store's ResultWriter (tests, benchmarks comparing writers). */
  createSink?: (store: Store, runId: number, opts: { spillDir: string; log: Logger; onDelivered: (d: DeliveredSeq[]) => void }) => ResultSink;
}

/** What Hq.bind takes: the store may still be opening. */
export interface HqBindOptions extends Omit<HqOptions, 'store'> {
  store: Store | Promise<Store>;
  /** Called once both sockets are bound, before the store is awaited. */
  onBound?: (ports: { publishPort: number; resultsPort: number }) => void;
}

export interface TurretSummary {
  uuid: string;
  name: string;
  state: TurretState;
  oct: boolean;
  results: number;
  /** Canons it announced, and running now (null when it did not say). */
  canons: number | null;
  canonsRunning: number | null;
  /** Its last health report: event-loop utilisation, CPU (cores), event-loop lag p99 (ms). */
  health: TurretHealth | null;
  joinedAt: Date;
  leftAt: Date | null;
}

export interface RunOutcome extends RunCounts {
  /** The threshold with abort_on_fail that stopped the run early, if one did. */
  thresholdAbort: Breach | null;
  runId: number;
  state: 'finished' | 'failed';
  error: string | null;
  startedAt: Date | null;
  endedAt: Date;
  /** True when this HQ adopted a run a previous HQ left running. */
  resumed: boolean;
  /** Set when the store never came back: the run is in this file, for `oct recover`. */
  recoveryFile: string | null;
  turrets: TurretSummary[];
  writer: WriterStats;
}

export interface HqStatus extends RunCounts {
  runId: number;
  runName: string;
  progress: Progress;
  live: LiveSnapshot;
  turrets: TurretSummary[];
  writer: WriterStats;
  endpoints: Hq['endpoints'];
}

/** libzmq drops a peer's connection above this; set above max_message_bytes so we count first. */
export function hardMessageCap(maxMessageBytes: number): number {
  return Math.min(maxMessageBytes * 2 + 1024 * 1024, 2 ** 31 - 1);
}

const YIELD_EVERY_MS = 5;

function portOf(endpoint: string): number {
  const m = /:(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`cannot read the port of ZeroMQ endpoint ${endpoint}`);
  return Number(m[1]);
}

async function adoptOrCreateRun(opts: HqOptions, log: Logger): Promise<{ run: RunInfo; resumed: boolean }> {
  const found = await opts.store.findUnfinishedRun(opts.runName);
  if (found && (found.state === 'running' || found.state === 'draining')) return { run: found, resumed: true };
  // A run left waiting never started: this HQ waits for turrets again under the same id.
  if (found) {
    log.info('adopting a run that never started', { runId: found.id });
    return { run: found, resumed: false };
  }
  const run = await opts.store.createRun({ name: opts.runName, config: opts.config, hqId: `${hostname()}:${process.pid}` });
  return { run, resumed: false };
}

export class Hq {
  readonly endpoints: { publish: string; results: string; publishPort: number; resultsPort: number };
  readonly runId: number;
  readonly resumed: boolean;
  private closed = false;
  private runPromise: Promise<RunOutcome> | null = null;
  private readonly closing = new AbortController();
  private readonly loop: Promise<void>;

  private constructor(
    private readonly opts: HqOptions,
    private readonly pub: zmq.Publisher,
    private readonly pull: zmq.Pull,
    private readonly parts: {
      log: Logger;
      registry: TurretRegistry;
      seq: SequenceTracker;
      ingest: Ingest;
      intake: Intake;
      stats: Aggregator;
      sink: ResultSink;
      recorder: StatusRecorder;
      lifecycle: Lifecycle;
      broadcaster: Broadcaster;
      load: { planner: LoadPlanner; timeline: LoadTimeline } | null;
      guard: CurveGuard | null;
    },
    run: RunInfo,
    resumed: boolean,
  ) {
    this.runId = run.id;
    this.resumed = resumed;
    const publish = pub.lastEndpoint!;
    const results = pull.lastEndpoint!;
    this.endpoints = { publish, results, publishPort: portOf(publish), resultsPort: portOf(results) };
    this.loop = this.socketLoop();
  }

  /**
   * Binds both sockets, then creates (or adopts) the run and starts taking statuses. The store may
   * still be opening: `onBound` hears the ports first (a launcher starts its turrets then, while
   * the store opens; their statuses wait in the results socket), and a store that fails to open
   * closes the sockets and rejects.
   */
  static async bind(bindOpts: HqBindOptions): Promise<Hq> {
    const log = bindOpts.log.child('hq');
    const clock = bindOpts.clock ?? systemClock;
    const metrics = bindOpts.metrics ?? noMetrics;
    const { config } = bindOpts;

    const host = bindOpts.bindHost ?? '0.0.0.0';
    const guard = bindOpts.curve ? await CurveGuard.start(bindOpts.curve, metrics, log.child('curve')) : null;
    const security = guard?.serverOptions() ?? {};
    const pub = new zmq.Publisher({ linger: 1000, ...security });
    const pull = new zmq.Pull({ maxMessageSize: hardMessageCap(config.max_message_bytes), receiveHighWaterMark: 1000, ...security });
    if (guard) {
      guard.watch(pub, 'orders');
      guard.watch(pull, 'results');
    }
    const publish = `tcp://${host}:${config.publish_port || '*'}`;
    const results = `tcp://${host}:${config.rc_port || '*'}`;
    let opts: HqOptions;
    let run: RunInfo;
    let resumed: boolean;
    try {
      await pub.bind(publish).catch((err) => {
        throw new CouldNotBindError('publish_port', publish, err);
      });
      await pull.bind(results).catch((err) => {
        throw new CouldNotBindError('rc_port', results, err);
      });
      bindOpts.onBound?.({ publishPort: portOf(pub.lastEndpoint!), resultsPort: portOf(pull.lastEndpoint!) });
      opts = { ...bindOpts, store: await bindOpts.store };
      ({ run, resumed } = await adoptOrCreateRun(opts, log));
    } catch (err) {
      pub.close();
      pull.close();
      await guard?.close();
      throw err;
    }
    const { store } = opts;

    const recorder = new StatusRecorder(store, run.id, log.child('status'));
    const registry = new TurretRegistry({ clock, silenceTimeoutMs: config.turret_silence_timeout * 1000, onChange: (c) => recorder.change(c) });
    const seq = new SequenceTracker();
    const delivery = new DeliveryTracker(
      () => clock.monotonic(),
      (uuid, n) => seq.received(uuid, n),
    );
    if (resumed) {
      // What the previous HQ stored: the turrets' re-sent copies of it are duplicates, the rest is new.
      const delivered = await store.readDelivered(run.id);
      seq.seed(delivered);
      delivery.seed(delivered);
    }
    const judged = parseThresholds(config.thresholds);
    const stats = new Aggregator({ clock, maxTimerSeries: opts.maxTimerSeries, windowSeconds: Math.max(60, LiveThresholds.longestWindow(judged)) });
    const thresholds = new LiveThresholds(judged, stats);
    if (resumed) {
      const stored = await store.readAggregates(run.id);
      stats.seed(stored.rows);
      stats.seedErrors(stored.errors);
    }
    const aggregates = new AggregateWriter(store, run.id, log.child('aggregates'), (d) => delivery.durable(d));
    metrics.attach?.(stats);
    const writerOpts = { spillDir: opts.spillDir, log: log.child('writer'), onDelivered: (d: DeliveredSeq[]) => delivery.durable(d) };
    const sink: ResultSink = opts.createSink ? opts.createSink(store, run.id, writerOpts) : new ResultWriter({ store, runId: run.id, clock, ...writerOpts });
    const broadcaster = new Broadcaster(pub, log);
    const spec = loadSpecOf(config);
    const planner = spec
      ? new LoadPlanner(spec, { sendPlans: (plans) => broadcaster.send(...[...plans].map(([uuid, plan]) => orders.plan(uuid, plan))) }, () => clock.now())
      : null;
    const load =
      spec && planner
        ? {
            planner,
            // The run's target per second is the project's shape only when every turret shares it.
            timeline: new LoadTimeline(
              spec.model,
              () => planner.startedAt,
              [...spec.entries.values()].some((e) => e.shape) ? null : spec.project,
              config.run_time,
            ),
          }
        : null;
    const intake = new Intake();
    const lifecycle = new Lifecycle({
      config,
      store,
      run,
      resumed,
      clock,
      log,
      registry,
      seq,
      intake,
      stats,
      aggregates,
      thresholds,
      sink,
      recorder,
      broadcaster,
      metrics,
      onProgress: opts.onProgress,
      drainTimeoutMs: opts.drainTimeoutMs ?? config.drain_timeout * 1000,
      delivery,
      hqInstance: randomUUID(),
      spillDir: opts.spillDir,
      load,
      data: opts.data ? new DataSplitter(opts.data) : null,
    });
    const ingest = new Ingest({
      clock,
      log: log.child('ingest'),
      registry,
      seq,
      stats,
      sink,
      rows: config.results_storage,
      metrics,
      maxMessageBytes: config.max_message_bytes,
      intake,
      delivery,
      onStatus: (entry, status, isNew) => {
        recorder.touch(entry, clock.monotonic());
        lifecycle.onStatus(entry, status, isNew);
      },
      onLoad: (entry, report) => load?.timeline.add(entry.name, report),
      identity: guard?.identity,
    });
    recorder.start();
    const hq = new Hq(opts, pub, pull, { log, registry, seq, ingest, intake, stats, sink, recorder, lifecycle, broadcaster, load, guard }, run, resumed);
    // One request at bind; turrets that connect later announce themselves (legacy ones every 2 s).
    void broadcaster.send(orders.statusRequest());
    log.info('HQ bound', {
      sinceStartMs: Math.round(performance.now()),
      runId: run.id,
      resumed,
      publish: hq.endpoints.publish,
      results: hq.endpoints.results,
      security: opts.curve
        ? `CURVE (HQ key ${opts.curve.hq.publicKey}, ${opts.curve.trusted.length} turret key(s) trusted, from ${opts.curve.source})`
        : 'plaintext',
    });
    return hq;
  }

  /** Runs the test to its end; an abort stops early but still drains and finishes. */
  run(signal?: AbortSignal): Promise<RunOutcome> {
    const stop = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    this.runPromise ??= this.parts.lifecycle.run(stop).then((r) => ({
      runId: this.runId,
      state: r.state,
      error: r.error,
      startedAt: r.startedAt,
      endedAt: r.endedAt,
      recoveryFile: r.recoveryFile,
      ...this.parts.lifecycle.counts(),
      thresholdAbort: this.parts.lifecycle.thresholdAbort,
      resumed: this.resumed,
      turrets: this.turretSummaries(),
      writer: this.parts.sink.stats(),
    }));
    return this.runPromise;
  }

  progress(): Progress {
    return this.parts.lifecycle.progress();
  }

  /** What /status serves. */
  status(): HqStatus {
    return {
      runId: this.runId,
      runName: this.opts.runName,
      progress: this.progress(),
      live: this.parts.stats.snapshot(),
      turrets: this.turretSummaries(),
      ...this.parts.lifecycle.counts(),
      writer: this.parts.sink.stats(),
      endpoints: this.endpoints,
    };
  }

  /** The statistics engine, for views that read it live (the dashboard). */
  get stats(): Aggregator {
    return this.parts.stats;
  }

  /** The planned target now (canons, or iterations/s in the open model); null when the run has no project plan. */
  plannedTarget(): { model: LoadModel; target: number } | null {
    const load = this.parts.load;
    const shape = load?.planner.projectShape;
    if (!load || !shape || this.parts.lifecycle.state !== 'running') return null;
    return { model: load.planner.model, target: targetAt(shape, this.parts.lifecycle.elapsedSeconds()) };
  }

  /** The newest second of the planned turrets' load reports (schedule lag, dropped iterations); null unplanned. */
  latestLoad(): ReturnType<LoadTimeline['latest']> {
    return this.parts.load?.timeline.latest() ?? null;
  }

  /** A stop asked for over HTTP (hq/run-control.ts). */
  requestStop(reason: string): void {
    this.parts.lifecycle.requestStop(reason);
  }

  /** A new target for the current stage, through the plan (hq/run-control.ts). */
  retarget(target: number): Promise<{ from: number; to: number; model: string }> {
    return this.parts.lifecycle.retarget(target);
  }

  /** Sockets bound and the store answering: what /readyz reports. */
  async ready(timeoutMs = 2000): Promise<{ ok: boolean; detail: string }> {
    if (this.closed) return { ok: false, detail: 'HQ closed' };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.opts.store.sql.query('SELECT 1'),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs))),
      ]);
      return { ok: true, detail: 'sockets bound, store reachable' };
    } catch (err) {
      return { ok: false, detail: `store unreachable: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Closes the sockets and flushes pending status writes; the store stays open (the caller owns
   * it). A run still in progress is stopped first, as an abort would (drained, finished).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.runPromise) {
      this.closing.abort();
      await this.runPromise.catch((err) => this.parts.log.error('run ended with an error', { error: err as Error }));
    }
    this.closed = true;
    this.pull.close();
    this.pub.close();
    await this.loop;
    await this.parts.guard?.close();
    await this.parts.recorder.close();
    if (!this.runPromise) await this.parts.sink.drain(5_000).catch((err) => this.parts.log.error('results not written', { error: err as Error }));
    await this.parts.sink.close?.();
  }

  /** The turrets as /status lists them. */
  turretSummaries(): TurretSummary[] {
    return this.parts.registry.list().map((e) => ({
      uuid: e.uuid,
      name: e.name,
      state: e.state,
      oct: e.oct,
      results: e.results,
      canons: e.canons,
      canonsRunning: e.canonsRunning,
      health: e.health,
      joinedAt: new Date(e.joinedAt),
      leftAt: e.leftAt === null ? null : new Date(e.leftAt),
    }));
  }

  private async socketLoop(): Promise<void> {
    const { ingest, log } = this.parts;
    let internalErrors = 0;
    let lastYield = performance.now();
    try {
      for await (const frames of this.pull) {
        // While messages keep coming, each receive resolves at once and the loop would never let
        // timers or the store's sockets run: the writer and the lifecycle would starve.
        if (performance.now() - lastYield > YIELD_EVERY_MS) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
        }
        try {
          ingest.handle(frames);
        } catch (err) {
          // A bug in handling one message must not end the test; say it loudly once.
          if (internalErrors++ === 0)
            log.error('internal error handling a message (further ones counted)', { error: err as Error, stack: (err as Error).stack ?? '' });
        }
      }
    } catch (err) {
      if (!this.closed) log.error('results socket loop ended', { error: err as Error });
    }
  }
}
