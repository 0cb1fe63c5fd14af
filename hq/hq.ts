// The HQ: binds the orders PUB and the results PULL, runs the socket loop, and drives one run
// through its lifecycle. `oct run` (local) and `oct hq` (Kubernetes) both build on this class.
import { hostname } from 'node:os';
import * as zmq from 'zeromq';
import { type Clock, systemClock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ProjectConfig } from '../protocol/config.ts';
import type { TurretState } from '../protocol/incoming.ts';
import { orders } from '../protocol/orders.ts';
import { AggregateWriter } from '../store/aggregate-writer.ts';
import { ResultWriter } from '../store/result-writer.ts';
import type { RunInfo, Store } from '../store/types.ts';
import { CouldNotBindError } from './bind-error.ts';
import { Broadcaster } from './broadcaster.ts';
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
  /** Replaces the store's ResultWriter (tests, benchmarks comparing writers). */
  createSink?: (store: Store, runId: number, opts: { spillDir: string; log: Logger }) => ResultSink;
}

export interface TurretSummary {
  uuid: string;
  name: string;
  state: TurretState;
  oct: boolean;
  results: number;
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

  /** Creates (or adopts) the run, binds both sockets and starts taking statuses. */
  static async bind(opts: HqOptions): Promise<Hq> {
    const log = opts.log.child('hq');
    const clock = opts.clock ?? systemClock;
    const metrics = opts.metrics ?? noMetrics;
    const { config, store } = opts;
    const { run, resumed } = await adoptOrCreateRun(opts, log);

    const host = opts.bindHost ?? '0.0.0.0';
    const pub = new zmq.Publisher({ linger: 1000 });
    const pull = new zmq.Pull({ maxMessageSize: hardMessageCap(config.max_message_bytes), receiveHighWaterMark: 1000 });
    const publish = `tcp://${host}:${config.publish_port || '*'}`;
    const results = `tcp://${host}:${config.rc_port || '*'}`;
    try {
      await pub.bind(publish).catch((err) => {
        throw new CouldNotBindError('publish_port', publish, err);
      });
      await pull.bind(results).catch((err) => {
        throw new CouldNotBindError('rc_port', results, err);
      });
    } catch (err) {
      pub.close();
      pull.close();
      throw err;
    }

    const recorder = new StatusRecorder(store, run.id, log.child('status'));
    const registry = new TurretRegistry({ clock, silenceTimeoutMs: config.turret_silence_timeout * 1000, onChange: (c) => recorder.change(c) });
    const seq = new SequenceTracker();
    const judged = parseThresholds(config.thresholds);
    const stats = new Aggregator({ clock, maxTimerSeries: opts.maxTimerSeries, windowSeconds: Math.max(60, LiveThresholds.longestWindow(judged)) });
    const thresholds = new LiveThresholds(judged, stats);
    if (resumed) stats.seed((await store.readAggregates(run.id)).rows);
    const aggregates = new AggregateWriter(store, run.id, log.child('aggregates'));
    metrics.attach?.(stats);
    const writerOpts = { spillDir: opts.spillDir, log: log.child('writer') };
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
      drainTimeoutMs: opts.drainTimeoutMs ?? 120_000,
      load,
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
      onStatus: (entry, status, isNew) => {
        recorder.touch(entry, clock.monotonic());
        lifecycle.onStatus(entry, status, isNew);
      },
      onLoad: (entry, report) => load?.timeline.add(entry.name, report),
    });
    recorder.start();
    const hq = new Hq(opts, pub, pull, { log, registry, seq, ingest, intake, stats, sink, recorder, lifecycle, broadcaster }, run, resumed);
    // One request at bind; turrets that connect later announce themselves (legacy ones every 2 s).
    void broadcaster.send(orders.statusRequest());
    log.info('HQ bound', { runId: run.id, resumed, publish: hq.endpoints.publish, results: hq.endpoints.results });
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
    await this.parts.recorder.close();
    if (!this.runPromise) await this.parts.sink.drain(5_000).catch((err) => this.parts.log.error('results not written', { error: err as Error }));
    await this.parts.sink.close?.();
  }

  private turretSummaries(): TurretSummary[] {
    return this.parts.registry.list().map((e) => ({
      uuid: e.uuid,
      name: e.name,
      state: e.state,
      oct: e.oct,
      results: e.results,
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
