// The run's phases: wait for turrets → start → run for run_time → stop → collect in-flight
// results → drain the store writer → finish. Also resumes a run adopted after an HQ restart.
// Everything here is driven by a 100 ms tick; the socket loop only feeds the registry and the
// writer, and calls `onStatus` so a late joiner is started without waiting for a tick.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ProjectConfig } from '../protocol/config.ts';
import type { MalformedKind, TurretState, TurretStatus } from '../protocol/incoming.ts';
import { orders } from '../protocol/orders.ts';
import type { RunInfo, RunState, Store } from '../store/types.ts';
import type { Broadcaster } from './broadcaster.ts';
import type { DeliveryTracker } from './delivery.ts';
import type { ResultSink } from './ingest.ts';
import type { Intake } from './intake.ts';
import type { AggregateWriter } from '../store/aggregate-writer.ts';
import { writeRecoveryFile } from '../store/recovery-file.ts';
import { ResultDrainError } from '../store/result-writer.ts';
import { retryUntil } from '../store/retry.ts';
import type { Aggregator } from './aggregator.ts';
import type { Breach, LiveThresholds } from './live-thresholds.ts';
import type { LoadPlanner } from './load-planner.ts';
import type { LoadTimeline } from './load-timeline.ts';
import { LOAD_ARTIFACT } from '../protocol/load-report.ts';
import type { HqMetricsHooks } from './metrics-hooks.ts';
import type { SequenceTracker } from './sequence-tracker.ts';
import type { StatusRecorder } from './status-recorder.ts';
import { type TurretEntry, TurretRegistry } from './turret-registry.ts';
import type { DataSplitter } from './data-split.ts';

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
  /** ctx.check evaluations so far, every check together. */
  checks: { passes: number; fails: number };
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
  /** How long the store may take to catch up at the end (drain_timeout). */
  drainTimeoutMs: number;
  /** Where a recovery file goes when the store never comes back. */
  spillDir: string;
  /** Which turret messages are stored, for the acknowledgements (docs/protocol.md). */
  delivery: DeliveryTracker;
  /** Names this HQ process in its acknowledgements: a turret that sees a new one re-sends. */
  hqInstance: string;
  /** Present when the run has stages or a rate: the HQ plans the turrets' load. */
  load: { planner: LoadPlanner; timeline: LoadTimeline } | null;
  /** The project's data file, split over the canons (hq/data-split.ts). */
  data?: DataSplitter | null;
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
// A turret keeps what is not acknowledged: about a second of messages at most, in normal running.
const ACK_EVERY_MS = 500;

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
  /** Results not stored because the store never came back: they are in the recovery file. */
  resultsInRecoveryFile: number;
  /** Custom timer series deltas refused beyond the series cap. */
  refusedSeries: number;
  /** Messages refused because their sender may not speak for their turret (CURVE identity). */
  rejectedMessages: number;
}

export interface LifecycleResult {
  state: 'finished' | 'failed';
  error: string | null;
  startedAt: Date | null;
  endedAt: Date;
  /** Where the run went when the store never came back (`oct recover` loads it). */
  recoveryFile: string | null;
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
  private lastAckMono = -Infinity;
  private readonly started = new Set<string>();
  private drainingWrite: Promise<void> | null = null;
  /** Set when the end of the run went to a recovery file instead of the store. */
  private recovery: { path: string; rows: number; storedRows: number } | null = null;
  /** Set by a stop asked for over HTTP (hq/run-control.ts): the running phase ends at the next tick. */
  private stopRequested: string | null = null;
  /** Ends the current wait for turrets early (a status arrived). */
  private wakeWaiting: (() => void) | null = null;

  constructor(private readonly deps: LifecycleDeps) {
    this.state = deps.resumed ? deps.run.state : 'waiting';
    this.startedAt = deps.resumed ? deps.run.startedAt : null;
  }

  elapsedSeconds(): number {
    if (!this.startedAt) return 0;
    return Math.max(0, (this.deps.clock.now() - this.startedAt.getTime()) / 1000);
  }

  /** Ends the running phase at the next tick (then stop, drain and finish as at the end of run_time). */
  requestStop(reason: string): void {
    if (this.state !== 'running') throw new Error(`the test is not running (it is ${this.state})`);
    this.stopRequested ??= reason;
  }

  /**
   * Changes the planned target of the current stage (canons, or iterations/s in the open model)
   * through the plan: every turret gets its new share. Throws when the run has no plan to change.
   */
  async retarget(target: number): Promise<{ from: number; to: number; model: string }> {
    if (this.state !== 'running' || this.stopRequested !== null)
      throw new Error(`the test is not running (it is ${this.stopRequested ? 'stopping' : this.state})`);
    const load = this.deps.load;
    if (!load)
      throw new Error(
        'this run has no load plan: its turrets loop their own canons. Give config.json "stages" (or "rate" in the open model) to change the target while it runs',
      );
    const { from, shape } = await load.planner.retarget(target);
    load.timeline.reshape(shape);
    load.timeline.replanned(this.elapsedSeconds(), load.planner.lastPlanId, load.planner.plans.size);
    this.deps.log.info('target changed', { from, to: target, model: load.planner.model, planId: load.planner.lastPlanId });
    return { from, to: target, model: load.planner.model };
  }

  /** From the socket loop, after the registry took the status. Must not await. */
  onStatus(entry: TurretEntry, status: TurretStatus, isNew: boolean): void {
    const { log } = this.deps;
    // The start waits for no tick once enough turrets are here.
    this.wakeWaiting?.();
    if (isNew) log.info('turret connected', { turret: entry.name, uuid: entry.uuid, status: status.rawStatus, oct: entry.oct });
    // Before anything else goes to it (same socket, so the rows arrive before `start`).
    if (isNew && entry.oct) this.sendRows(entry);
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
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, TICK_MS);
        this.wakeWaiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeWaiting = null;
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
    this.deps.log.info('test started', {
      sinceStartMs: Math.round(performance.now()),
      runId: this.deps.run.id,
      turrets: this.deps.registry.size,
      runTime: this.deps.config.run_time,
    });
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

  /** A turret's rows of the data file; a PUB message can be lost, so `start` sends them again. */
  private rowsOrder(entry: TurretEntry): ReturnType<typeof orders.dataRows> | null {
    const data = this.deps.data;
    if (!data || !entry.oct) return null;
    return orders.dataRows(entry.uuid, data.share(entry.uuid, entry.canons ?? 0).rows);
  }

  private sendRows(entry: TurretEntry): void {
    const data = this.deps.data;
    if (!data) return;
    const { rows, short } = data.share(entry.uuid, entry.canons ?? 0);
    if (short)
      this.deps.log.warn(`data: ${data.data.file} is used up: ${short} of turret ${entry.name}'s canons get no row (ctx.row is undefined)`, {
        rows: data.data.rows.length,
        used: data.used,
        policy: data.data.policy,
      });
    void this.deps.broadcaster.send(orders.dataRows(entry.uuid, rows));
  }

  private broadcastStart(): Promise<void> {
    this.lastStartMono = this.deps.clock.monotonic();
    const rows = this.deps.data
      ? this.deps.registry
          .list()
          .filter((e) => e.state === 'ready')
          .flatMap((e) => this.rowsOrder(e) ?? [])
      : [];
    return this.deps.broadcaster.send(
      ...rows,
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
      if (this.stopRequested !== null) {
        this.deps.log.warn('stopping early: asked to over HTTP', { reason: this.stopRequested });
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
    // Informative only (the final state follows): a store that is away must not hold up the
    // collection of in-flight results, so this is one attempt, awaited before the final write.
    this.drainingWrite = this.deps.store.updateRun(this.deps.run.id, { state: 'draining' }).catch((err) => {
      this.deps.log.warn('could not record the draining state; the final state will be written later', { error: err as Error });
    });
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

  /**
   * Drains the writers and records the final state, retrying the store until `drainTimeoutMs`
   * has passed. A store that never comes back leaves everything received in a recovery file.
   */
  private async finish(config: ProjectConfig): Promise<LifecycleResult> {
    const { sink, intake, registry, seq, log, clock } = this.deps;
    const deadline = clock.monotonic() + this.deps.drainTimeoutMs;
    const left = () => Math.max(0, deadline - clock.monotonic());
    let storeError: string | null = null;
    let unwritten: { path: string; rows: number; uncertainRows: number } | null = null;
    try {
      await sink.drain(left());
      intake.close();
      // Anything enqueued between the end of the drain and the flag above.
      await sink.drain(Math.min(left(), 5_000));
    } catch (err) {
      intake.close();
      storeError = (err as Error).message;
      if (err instanceof ResultDrainError && err.recoveryFile)
        unwritten = { path: err.recoveryFile, rows: err.unwrittenRows, uncertainRows: err.uncertainRows };
    }
    this.flushAggregates();
    if (!storeError) {
      try {
        await this.deps.aggregates.drain(left());
      } catch (err) {
        storeError = (err as Error).message;
      }
    }
    // Everything is stored: turrets waiting to leave (scaled down, SIGTERM) may go.
    if (!storeError) this.acknowledge(true);
    for (const e of registry.list()) if (e.oct) seq.countTrailing(e.uuid, e.lastStatusSeq);
    // The run may have been interrupted (its launcher saw every turret exit) before the loop saw
    // their Aborted statuses: the test still did not run, and says why.
    this.abortedBy ??= this.deps.stats.transactions === 0 ? this.everyTurretAborted() : null;
    const malformed = intake.malformedSummary();
    if (malformed) log.warn('malformed messages during the run', { counts: malformed });
    if (seq.duplicates || seq.missingBatches) log.warn('batch sequence anomalies', { duplicates: seq.duplicates, missingBatches: seq.missingBatches });
    const endedAt = new Date(clock.now());
    const artifacts = this.deps.load ? [{ name: LOAD_ARTIFACT, content: Buffer.from(JSON.stringify(this.deps.load.timeline.data())) }] : [];
    await this.drainingWrite;
    if (!storeError) {
      const retry = <T>(write: () => Promise<T>) =>
        retryUntil(write, {
          deadline,
          now: () => clock.monotonic(),
          onRetry: (error, attempt) => log.warn('the store refused the end of the run; retrying', { error, attempt }),
        });
      const final = { state: this.abortedBy ? ('failed' as const) : ('finished' as const), endedAt, error: this.abortedBy, summary: this.summary() };
      try {
        for (const a of artifacts) await retry(() => this.deps.store.saveArtifact(this.deps.run.id, a.name, a.content));
        await retry(() => this.deps.store.updateRun(this.deps.run.id, final));
        await this.deps.recorder.flush();
        return this.ended(final.state, final.error, endedAt, config);
      } catch (err) {
        storeError = (err as Error).message;
      }
    }
    return this.leaveRecoveryFile(storeError, unwritten, artifacts, endedAt, config);
  }

  /** The store is gone for good: everything this HQ holds goes to one file that `oct recover` loads. */
  private async leaveRecoveryFile(
    storeError: string,
    unwritten: { path: string; rows: number; uncertainRows: number } | null,
    artifacts: { name: string; content: Buffer }[],
    endedAt: Date,
    config: ProjectConfig,
  ): Promise<LifecycleResult> {
    const { run, log } = this.deps;
    const stored = this.deps.sink.stats().writtenRows;
    this.recovery = { path: join(this.deps.spillDir, `recovery-run${run.id}-${this.deps.clock.now()}.oct`), rows: unwritten?.rows ?? 0, storedRows: stored };
    const aggregates = this.deps.aggregates.takeUnwritten();
    const status = this.deps.recorder.takeUnwritten();
    const state = this.abortedBy ? ('failed' as const) : ('finished' as const);
    const seconds = Math.round(this.deps.drainTimeoutMs / 1000);
    try {
      await writeRecoveryFile(
        this.recovery.path,
        {
          run: { id: run.id, name: run.name, config: run.config, hqId: run.hqId, startedAt: this.startedAt },
          final: { state, endedAt, error: this.abortedBy, summary: this.summary() },
          aggregates: aggregates.rows,
          errorCounts: aggregates.errors,
          turrets: status.turrets,
          statusChanges: status.changes,
          artifacts,
          uncertainRows: unwritten?.uncertainRows ?? 0,
        },
        unwritten,
      );
      if (unwritten) rmSync(unwritten.path, { force: true });
    } catch (err) {
      log.error('could not write the recovery file', { path: this.recovery.path, error: err as Error });
      const error = `the store did not come back within drain_timeout (${seconds} s) and the recovery file could not be written: ${(err as Error).message}; last store error: ${storeError}`;
      this.recovery = null;
      return this.ended('failed', error, endedAt, config);
    }
    const error =
      `the store did not come back within drain_timeout (${seconds} s): ${storeError}. ` +
      `Everything received that was not stored (${this.recovery.rows} results, ${aggregates.rows.length} aggregate rows, the final state) is in ${this.recovery.path}; ` +
      `load it with "oct recover ${this.recovery.path} --database-url URL"`;
    log.error('run left in a recovery file', { path: this.recovery.path, results: this.recovery.rows, storedResults: stored });
    return this.ended('failed', error, endedAt, config);
  }

  private ended(state: 'finished' | 'failed', error: string | null, endedAt: Date, config: ProjectConfig): LifecycleResult {
    this.state = state;
    this.deps.log.info('test finished', { runId: this.deps.run.id, transactions: this.deps.stats.transactions, runTime: config.run_time });
    this.report(true);
    return { state, error, startedAt: this.startedAt, endedAt, recoveryFile: this.recovery?.path ?? null };
  }

  private async fail(error: string): Promise<LifecycleResult> {
    this.state = 'failed';
    this.deps.intake.close();
    this.deps.log.error(error);
    const endedAt = new Date(this.deps.clock.now());
    await this.deps.store.updateRun(this.deps.run.id, { state: 'failed', endedAt, error, summary: this.summary() });
    await this.deps.recorder.flush();
    this.report(true);
    return { state: 'failed', error, startedAt: null, endedAt, recoveryFile: null };
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
      resultsInRecoveryFile: this.recovery?.rows ?? 0,
      refusedSeries: stats.refusedSeries,
      rejectedMessages: intake.rejected,
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
      checks: stats.checks().reduce((a, c) => ({ passes: a.passes + c.passes, fails: a.fails + c.fails }), { passes: 0, fails: 0 }),
    };
  }

  /** Results of row-only turrets folded in, and every delta not yet stored handed to its writer. */
  /** Tells oct turrets which of their messages are stored, twice a second (and when forced). */
  private acknowledge(force = false): void {
    const mono = this.deps.clock.monotonic();
    if (!force && mono - this.lastAckMono < ACK_EVERY_MS) return;
    this.lastAckMono = mono;
    const seqs = this.deps.delivery.acks();
    if (seqs) void this.deps.broadcaster.send(orders.ack(this.deps.hqInstance, this.deps.run.id, seqs));
  }

  private flushAggregates(): void {
    this.deps.stats.fold();
    this.deps.aggregates.enqueue(this.deps.stats.takeStoreRows());
  }

  /** About once a second (and on every phase change): progress callback and metrics gauges. */
  private report(force = false): void {
    this.acknowledge(force);
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
