// The run's phases: wait for turrets → start → run for run_time → stop → collect in-flight
// results → drain the store writer → finish. Also resumes a run adopted after an HQ restart.
// Everything here is driven by a 100 ms tick; the socket loop only feeds the registry and the
// writer, and calls `onStatus` so a late joiner is started without waiting for a tick.
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ProjectConfig } from '../protocol/config.ts';
import type { MalformedKind, TurretState, TurretStatus } from '../protocol/incoming.ts';
import { orders } from '../protocol/orders.ts';
import type { RunInfo, RunState, Store } from '../store/types.ts';
import type { Broadcaster } from './broadcaster.ts';
import type { ResultSink } from './ingest.ts';
import type { Intake } from './intake.ts';
import type { AggregateWriter } from '../store/aggregate-writer.ts';
import type { Aggregator } from './aggregator.ts';
import type { Breach, LiveThresholds } from './live-thresholds.ts';
import type { LoadPlanner } from './load-planner.ts';
import type { LoadTimeline } from './load-timeline.ts';
import { LOAD_ARTIFACT } from '../protocol/load-report.ts';
import type { HqMetricsHooks } from './metrics-hooks.ts';
import type { SequenceTracker } from './sequence-tracker.ts';
import type { StatusRecorder } from './status-recorder.ts';
import { type TurretEntry, TurretRegistry } from './turret-registry.ts';

export interface Progress {
  state: RunState;
  elapsedSeconds: number;
  runTime: number;
  turrets: { total: number; byState: Record<TurretState, number> };
  canonsRunning: number;
  transactions: number;
  errors: number;
  /** Results per second over the last few seconds. */
  ratePerSecond: number;
  /** Planned runs: iterations the turrets could not start in time (no free canon, missed slot). */
  droppedIterations: number;
  /** Malformed messages so far, all kinds. */
  malformed: number;
}

export interface LifecycleDeps {
  config: ProjectConfig;
  store: Store;
  run: RunInfo;
  /** The run was running or draining when this HQ adopted it (an HQ restart). */
  resumed: boolean;
  clock: Clock;
  log: Logger;
  registry: TurretRegistry;
  seq: SequenceTracker;
  intake: Intake;
  stats: Aggregator;
  aggregates: AggregateWriter;
  thresholds: LiveThresholds;
  sink: ResultSink;
  recorder: StatusRecorder;
  broadcaster: Broadcaster;
  metrics: HqMetricsHooks;
  onProgress?: (p: Progress) => void;
  /** How long the store writer may take to catch up at the end. */
  drainTimeoutMs: number;
  /** Present when the run has stages or a rate: the HQ plans the turrets' load. */
  load: { planner: LoadPlanner; timeline: LoadTimeline } | null;
}

const TICK_MS = 100;
const STATUS_REQUEST_EVERY_MS = 5_000;
const PROBE_EVERY_MS = 3_000;
const START_DEDUPE_MS = 200;
const RESTART_EVERY_MS = 1_500;
const LEGACY_QUIET_MS = 1_000;
const ANY_QUIET_MS = 300;
const PLAN_RESEND_EVERY_MS = 1_000;
// With turrets' aggregates every 500 ms, a breach is seen within about a second of happening.
const JUDGE_THRESHOLDS_EVERY_MS = 500;

export interface RunCounts {
  transactions: number;
  errors: number;
  malformed: Record<MalformedKind, number>;
  duplicates: number;
  missingBatches: number;
  /** Results that arrived after the run finished (not stored). */
  lateResults: number;
  /** Results received and not kept (they came after the run finished; the writer spills, never drops). */
  droppedResults: number;
  /** Custom timer series deltas refused beyond the series cap. */
  refusedSeries: number;
}

export interface LifecycleResult {
  state: 'finished' | 'failed';
  error: string | null;
  startedAt: Date | null;
  endedAt: Date;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Lifecycle {
  state: RunState;
  startedAt: Date | null;
  private startedMono: number | null = null;
  private stopMono: number | null = null;
  private lastStartMono = -Infinity;
  private lastProbeMono = -Infinity;
  private lastProgressMono = -Infinity;
  private lastPlanResendMono = -Infinity;
  /** Set when the run ended early because every turret aborted: the run failed, and why. */
  private abortedBy: string | null = null;
  /** Set when a threshold with abort_on_fail stopped the run. */
  thresholdAbort: Breach | null = null;
  private lastThresholdMono = -Infinity;
  private readonly started = new Set<string>();

  constructor(private readonly deps: LifecycleDeps) {
    this.state = deps.resumed ? deps.run.state : 'waiting';
    this.startedAt = deps.resumed ? deps.run.startedAt : null;
  }

  elapsedSeconds(): number {
    if (!this.startedAt) return 0;
    return Math.max(0, (this.deps.clock.now() - this.startedAt.getTime()) / 1000);
  }

  /** From the socket loop, after the registry took the status. Must not await. */
  onStatus(entry: TurretEntry, status: TurretStatus, isNew: boolean): void {
    const { log } = this.deps;
    if (isNew) log.info('turret connected', { turret: entry.name, uuid: entry.uuid, status: status.rawStatus, oct: entry.oct });
    if (entry.state === 'aborted') log.warn('turret aborted', { turret: entry.name, uuid: entry.uuid, reason: entry.reason ?? '' });
    // A turret leaving (its `Stopping` on SIGTERM) hands its share to the others at once.
    if (this.state === 'running' && entry.state !== 'ready') void this.replan();
    // A turret idle while the test runs is a late joiner (or missed `start` because its
    // subscription was not yet in place): start it. Running turrets ignore `start`, so the
    // broadcast is harmless to the others.
    if (this.state === 'running' && this.stopMono === null && entry.state === 'ready') {
      const mono = this.deps.clock.monotonic();
      if (!this.started.has(entry.uuid) && this.startedMono !== null && mono - this.startedMono > 500) {
        log.info('starting a turret that joined after the start', { turret: entry.name, uuid: entry.uuid });
      }
      // A burst of statuses shares one broadcast; one that misses it is covered by the tick.
      // Its plan goes out first (same socket, so it arrives before `start`).
      void this.replan();
      if (mono - this.lastStartMono >= START_DEDUPE_MS) void this.broadcastStart();
      this.started.add(entry.uuid);
    }
  }

  async run(signal?: AbortSignal): Promise<LifecycleResult> {
    const { config, log } = this.deps;
    if (this.deps.resumed) {
      log.warn('resuming a run left unfinished by a previous HQ', {
        runId: this.deps.run.id,
        state: this.deps.run.state,
        startedAt: this.startedAt?.toISOString() ?? null,
      });
      this.startedMono = this.deps.clock.monotonic() - this.elapsedSeconds() * 1000;
      if (this.startedAt) this.deps.load?.planner.begin(this.startedAt.getTime());
    } else {
      const waited = await this.waitForTurrets(signal);
      if (waited) return this.fail(waited);
      await this.start();
    }
    if (this.state === 'running') await this.runUntilTime(signal);
    await this.stop();
    await this.collectInFlight();
    return this.finish(config);
  }

  private async waitForTurrets(signal?: AbortSignal): Promise<string | null> {
    const { config, registry, clock } = this.deps;
    const t0 = clock.monotonic();
    let lastRequest = t0; // the HQ sent one status_request at bind
    while (registry.presentCount() < config.min_turrets) {
      const now = clock.monotonic();
      if (signal?.aborted) return `interrupted while waiting for turrets (${this.connectedText()})`;
      if (now - t0 >= config.turrets_wait_timeout * 1000) {
        return `waited ${config.turrets_wait_timeout} s for ${config.min_turrets} turret${config.min_turrets === 1 ? '' : 's'}, ${this.connectedText()}`;
      }
      if (now - lastRequest >= STATUS_REQUEST_EVERY_MS) {
        lastRequest = now;
        void this.deps.broadcaster.send(orders.statusRequest());
      }
      this.report();
      await sleep(TICK_MS);
    }
    return null;
  }

  private connectedText(): string {
    const present = this.deps.registry.list().filter((e) => !TurretRegistry.isGone(e.state));
    if (!present.length) return '0 connected';
    return `${present.length} connected: ${present.map((e) => `${e.name} (${e.uuid})`).join(', ')}`;
  }

  private async start(): Promise<void> {
    this.state = 'running';
    this.startedAt = new Date(this.deps.clock.now());
    this.startedMono = this.deps.clock.monotonic();
    for (const e of this.deps.registry.list()) this.started.add(e.uuid);
    this.deps.load?.planner.begin(this.startedAt.getTime());
    await this.replan();
    await this.broadcastStart();
    await this.deps.store.updateRun(this.deps.run.id, { state: 'running', startedAt: this.startedAt });
    this.deps.log.info('test started', { runId: this.deps.run.id, turrets: this.deps.registry.size, runTime: this.deps.config.run_time });
    this.report(true);
  }

  /** Plans the load over the oct turrets that can take it now (announced, neither leaving nor gone), if they changed. */
  private async replan(): Promise<void> {
    const load = this.deps.load;
    if (!load || this.stopMono !== null) return;
    const turrets = this.deps.registry
      .list()
      .filter((e) => e.oct && (e.state === 'ready' || e.state === 'running'))
      .map((e) => ({ uuid: e.uuid, name: e.name, canons: e.canons }));
    if (await load.planner.update(turrets)) {
      load.timeline.replanned(this.elapsedSeconds(), load.planner.lastPlanId, load.planner.plans.size);
      this.deps.log.info('load planned', { planId: load.planner.lastPlanId, turrets: load.planner.plans.size });
    }
  }

  /**
   * A running turret whose status, sent well after its plan went out, names an older plan missed
   * the order (a PUB message can be lost to a reconnect): send it again, at most every second.
   */
  private resendMissedPlans(): void {
    const load = this.deps.load;
    const mono = this.deps.clock.monotonic();
    if (!load || mono - this.lastPlanResendMono < PLAN_RESEND_EVERY_MS) return;
    const missed: string[] = [];
    for (const [uuid, plan] of load.planner.plans) {
      const e = this.deps.registry.get(uuid);
      if (e && e.state === 'running' && (e.planId ?? 0) < plan.planId && e.lastSeenAt > plan.sentAt + PLAN_RESEND_EVERY_MS) missed.push(uuid);
    }
    if (!missed.length) return;
    this.lastPlanResendMono = mono;
    this.deps.log.warn('re-sending a plan turrets did not take', { turrets: missed.join(', ') });
    void load.planner.resend(missed);
  }

  private broadcastStart(): Promise<void> {
    this.lastStartMono = this.deps.clock.monotonic();
    return this.deps.broadcaster.send(
      orders.setTransactionContext(this.deps.config.transaction_context),
      orders.resultsStorage(this.deps.config.results_storage),
      orders.start(),
    );
  }

  private async runUntilTime(signal?: AbortSignal): Promise<void> {
    const endMono = this.startedMono! + this.deps.config.run_time * 1000;
    while (this.deps.clock.monotonic() < endMono) {
      // Before the interruption: a launcher whose turrets all exited interrupts the run too, and
      // the reason must be theirs (every turret aborted: the test did not run), not "interrupted".
      if (this.everyTurretGone()) {
        this.deps.log.error('stopping early: no turret left running', { turrets: this.connectedText() });
        // Killed turrets were stopped on purpose; a test whose turrets all aborted did not run.
        this.abortedBy = this.everyTurretAborted();
        return;
      }
      if (signal?.aborted) {
        this.deps.log.warn('stopping early: interrupted');
        return;
      }
      if (this.judgeThresholds()) return;
      this.watchLiveness();
      // A turret that left, was lost or came back: its share moves within a tick.
      void this.replan();
      this.resendMissedPlans();
      this.restartIdleTurrets();
      this.report();
      await sleep(Math.min(TICK_MS, Math.max(1, endMono - this.deps.clock.monotonic())));
    }
  }

  /** Twice a second: true when a threshold with abort_on_fail was breached and the run must stop. */
  private judgeThresholds(): boolean {
    const mono = this.deps.clock.monotonic();
    if (mono - this.lastThresholdMono < JUDGE_THRESHOLDS_EVERY_MS) return false;
    this.lastThresholdMono = mono;
    this.deps.stats.fold();
    const breach = this.deps.thresholds.tick(this.elapsedSeconds());
    if (!breach) return false;
    this.thresholdAbort = breach;
    this.deps.log.error('stopping early: a threshold with abort_on_fail failed', { threshold: breach.key, detail: breach.detail });
    return true;
  }

  /** Turrets still idle while the test runs missed `start` (or joined in a burst): send it again. */
  private restartIdleTurrets(): void {
    const mono = this.deps.clock.monotonic();
    if (mono - this.lastStartMono < RESTART_EVERY_MS) return;
    if (this.deps.registry.list().some((e) => e.state === 'ready')) void this.broadcastStart();
  }

  /** "every turret aborted: …" with their reasons when each one did, else null. */
  private everyTurretAborted(): string | null {
    const all = this.deps.registry.list();
    if (!all.length || !all.every((e) => e.state === 'aborted')) return null;
    return `every turret aborted: ${all.map((e) => `${e.name}: ${e.reason ?? 'no reason given'}`).join('; ')}`;
  }

  /** Every turret aborted or was killed (a lost one may come back, so it does not count). */
  private everyTurretGone(): boolean {
    const all = this.deps.registry.list();
    return all.length > 0 && all.every((e) => e.state === 'aborted' || e.state === 'killed');
  }

  private watchLiveness(): void {
    const { registry, clock, config, log } = this.deps;
    const mono = clock.monotonic();
    // Legacy turrets say nothing while running unless asked: ask before calling anyone lost.
    if (registry.longestSilenceMs() >= (config.turret_silence_timeout * 1000) / 2 && mono - this.lastProbeMono >= PROBE_EVERY_MS) {
      this.lastProbeMono = mono;
      void this.deps.broadcaster.send(orders.statusRequest());
    }
    for (const e of registry.markSilentLost())
      log.warn('turret lost: silent too long', { turret: e.name, uuid: e.uuid, silentSeconds: config.turret_silence_timeout });
  }

  private async stop(): Promise<void> {
    this.stopMono = this.deps.clock.monotonic();
    this.state = 'draining';
    await this.deps.broadcaster.send(orders.stop());
    await this.deps.store.updateRun(this.deps.run.id, { state: 'draining' });
    this.deps.log.info('stop sent; collecting in-flight results', { graceSeconds: this.deps.config.stop_grace });
    this.report(true);
  }

  /**
   * Until every turret that was running has reported it is done: an oct turret with a post-stop,
   * non-running status whose seq matches the last batch received (nothing in flight); a legacy
   * turret with a post-stop `ready` and no legacy result for a second. Bounded by stop_grace.
   */
  private async collectInFlight(): Promise<void> {
    const { clock, config, registry } = this.deps;
    const waitFor = registry.list().filter((e) => e.state === 'running' || e.state === 'stopping' || e.state === 'lost');
    const deadline = this.stopMono! + config.stop_grace * 1000;
    let lastRequest = this.stopMono!;
    while (clock.monotonic() < deadline) {
      const mono = clock.monotonic();
      if (this.settled(waitFor, mono)) return;
      // A legacy turret answers only once back in its idle loop; asking makes it say so at once.
      if (mono - lastRequest >= 1000) {
        lastRequest = mono;
        void this.deps.broadcaster.send(orders.statusRequest());
      }
      this.watchLiveness();
      this.report();
      await sleep(TICK_MS);
    }
    const pending = waitFor.filter((e) => !this.turretSettled(e)).map((e) => `${e.name} (${e.uuid})`);
    if (pending.length) this.deps.log.warn('stop_grace elapsed before every turret confirmed it was done', { pending: pending.join(', ') });
  }

  private turretSettled(e: TurretEntry): boolean {
    if (TurretRegistry.isGone(e.state) && e.state !== 'lost') return true;
    if (e.state === 'lost') return false;
    const postStop = e.lastStatusMono > this.stopMono! && e.state !== 'running' && e.state !== 'stopping';
    if (!postStop) return false;
    if (!e.oct) return true;
    const highest = this.deps.seq.highestSeq(e.uuid) ?? 0;
    return e.lastStatusSeq !== null && e.lastStatusSeq <= highest;
  }

  private settled(waitFor: TurretEntry[], mono: number): boolean {
    if (!waitFor.every((e) => this.turretSettled(e) || e.state === 'lost')) return false;
    // Lost turrets are not waited for beyond this point, but results may still be in the pipe.
    const { intake } = this.deps;
    if (mono - intake.lastResultMono < ANY_QUIET_MS || mono - this.stopMono! < ANY_QUIET_MS) return false;
    const legacy = waitFor.some((e) => !e.oct);
    const anonymous = intake.lastLegacyResultMono > this.stopMono! - LEGACY_QUIET_MS;
    if ((legacy || anonymous) && mono - intake.lastLegacyResultMono < LEGACY_QUIET_MS) return false;
    return true;
  }

  private async finish(config: ProjectConfig): Promise<LifecycleResult> {
    const { sink, intake, registry, seq, log } = this.deps;
    let drainError: string | null = null;
    try {
      await sink.drain(this.deps.drainTimeoutMs);
      intake.close();
      // Anything enqueued between the end of the drain and the flag above.
      await sink.drain(Math.min(this.deps.drainTimeoutMs, 5_000));
      this.flushAggregates();
      await this.deps.aggregates.drain(this.deps.drainTimeoutMs);
    } catch (err) {
      intake.close();
      drainError = (err as Error).message;
    }
    for (const e of registry.list()) if (e.oct) seq.countTrailing(e.uuid, e.lastStatusSeq);
    // The run may have been interrupted (its launcher saw every turret exit) before the loop saw
    // their Aborted statuses: the test still did not run, and says why.
    this.abortedBy ??= this.deps.stats.transactions === 0 ? this.everyTurretAborted() : null;
    const w = sink.stats();
    const unwritten = w.queuedRows + w.spilledRows + w.inFlightRows;
    const error = drainError
      ? `the store did not catch up: ${drainError}`
      : unwritten > 0
        ? `the store did not catch up: ${unwritten} results not yet written (${w.spilledRows} in the spill file)${w.lastError ? `; last error: ${w.lastError}` : ''}`
        : this.abortedBy;
    const malformed = intake.malformedSummary();
    if (malformed) log.warn('malformed messages during the run', { counts: malformed });
    if (seq.duplicates || seq.missingBatches) log.warn('batch sequence anomalies', { duplicates: seq.duplicates, missingBatches: seq.missingBatches });
    const state = error ? 'failed' : 'finished';
    this.state = state;
    const endedAt = new Date(this.deps.clock.now());
    if (this.deps.load) {
      try {
        await this.deps.store.saveArtifact(this.deps.run.id, LOAD_ARTIFACT, Buffer.from(JSON.stringify(this.deps.load.timeline.data())));
      } catch (err) {
        log.error('could not save the load timeline', { error: err as Error });
      }
    }
    await this.deps.store.updateRun(this.deps.run.id, { state, endedAt, error, summary: this.summary() });
    await this.deps.recorder.flush();
    log.info('test finished', { runId: this.deps.run.id, transactions: this.deps.stats.transactions, runTime: config.run_time });
    this.report(true);
    return { state, error, startedAt: this.startedAt, endedAt };
  }

  private async fail(error: string): Promise<LifecycleResult> {
    this.state = 'failed';
    this.deps.intake.close();
    this.deps.log.error(error);
    const endedAt = new Date(this.deps.clock.now());
    await this.deps.store.updateRun(this.deps.run.id, { state: 'failed', endedAt, error, summary: this.summary() });
    await this.deps.recorder.flush();
    this.report(true);
    return { state: 'failed', error, startedAt: null, endedAt };
  }

  /** The run's counts, assembled here only: the summary, the outcome and /status all take them from this. */
  counts(): RunCounts {
    const { intake, seq, stats } = this.deps;
    return {
      transactions: stats.transactions,
      errors: stats.errors,
      malformed: { ...intake.malformed },
      duplicates: seq.duplicates,
      missingBatches: seq.missingBatches,
      lateResults: intake.late,
      droppedResults: intake.late,
      refusedSeries: stats.refusedSeries,
    };
  }

  summary(): Record<string, unknown> {
    return {
      ...this.counts(),
      thresholds: this.deps.thresholds.record(),
      ...(this.deps.load
        ? { load: { started: this.deps.load.timeline.startedTotal, dropped: this.deps.load.timeline.droppedTotal, planId: this.deps.load.planner.lastPlanId } }
        : {}),
    };
  }

  progress(): Progress {
    const { registry, stats, intake } = this.deps;
    const malformed = intake.malformedTotal();
    return {
      state: this.state,
      elapsedSeconds: this.elapsedSeconds(),
      runTime: this.deps.config.run_time,
      turrets: { total: registry.size, byState: registry.byState() },
      canonsRunning: registry.canonsRunning(),
      transactions: stats.transactions,
      errors: stats.errors,
      ratePerSecond: stats.ratePerSecond(),
      droppedIterations: this.deps.load?.timeline.droppedTotal ?? 0,
      malformed,
    };
  }

  /** Results of row-only turrets folded in, and every delta not yet stored handed to its writer. */
  private flushAggregates(): void {
    this.deps.stats.fold();
    this.deps.aggregates.enqueue(this.deps.stats.takeStoreRows());
  }

  /** About once a second (and on every phase change): progress callback and metrics gauges. */
  private report(force = false): void {
    const mono = this.deps.clock.monotonic();
    if (!force && mono - this.lastProgressMono < 1000) return;
    this.lastProgressMono = mono;
    this.flushAggregates();
    const p = this.progress();
    const { metrics } = this.deps;
    metrics.setRunState(p.state, p.elapsedSeconds);
    metrics.setTurrets(p.turrets.byState, p.canonsRunning);
    metrics.setWriter(this.deps.sink.stats());
    try {
      this.deps.onProgress?.(p);
    } catch (err) {
      this.deps.log.warn('progress callback failed', { error: err as Error });
    }
  }
}
