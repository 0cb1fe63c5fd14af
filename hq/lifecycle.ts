// The run's phases: wait for turrets → start → run for run_time → stop → collect in-flight
// results → drain the store writer → finish. Also resumes a run adopted after an HQ restart.
// Everything here is driven by a 100 ms tick; the socket loop only feeds the registry and the
// writer, and calls `onStatus` so a late joiner is started without waiting for a tick.
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ProjectConfig } from '../protocol/config.ts';
import type { TurretState, TurretStatus } from '../protocol/incoming.ts';
import { orders } from '../protocol/orders.ts';
import type { RunInfo, RunState, Store } from '../store/types.ts';
import type { Broadcaster } from './broadcaster.ts';
import type { Ingest, ResultSink } from './ingest.ts';
import type { LiveStats } from './live-stats.ts';
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
  ingest: Ingest;
  live: LiveStats;
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
  private readonly started = new Set<string>();

  constructor(private readonly d: LifecycleDeps) {
    this.state = d.resumed ? d.run.state : 'waiting';
    this.startedAt = d.resumed ? d.run.startedAt : null;
  }

  elapsedSeconds(): number {
    if (!this.startedAt) return 0;
    return Math.max(0, (this.d.clock.now() - this.startedAt.getTime()) / 1000);
  }

  /** From the socket loop, after the registry took the status. Must not await. */
  onStatus(entry: TurretEntry, status: TurretStatus, isNew: boolean): void {
    const { log } = this.d;
    if (isNew) log.info('turret connected', { turret: entry.name, uuid: entry.uuid, status: status.rawStatus, oct: entry.oct });
    if (entry.state === 'aborted') log.warn('turret aborted', { turret: entry.name, uuid: entry.uuid, reason: entry.reason ?? '' });
    // A turret leaving (its `Stopping` on SIGTERM) hands its share to the others at once.
    if (this.state === 'running' && entry.state !== 'ready') void this.replan();
    // A turret idle while the test runs is a late joiner (or missed `start` because its
    // subscription was not yet in place): start it. Running turrets ignore `start`, so the
    // broadcast is harmless to the others.
    if (this.state === 'running' && this.stopMono === null && entry.state === 'ready') {
      const mono = this.d.clock.monotonic();
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
    const { config, log } = this.d;
    if (this.d.resumed) {
      log.warn('resuming a run left unfinished by a previous HQ', {
        runId: this.d.run.id,
        state: this.d.run.state,
        startedAt: this.startedAt?.toISOString() ?? null,
      });
      this.startedMono = this.d.clock.monotonic() - this.elapsedSeconds() * 1000;
      if (this.startedAt) this.d.load?.planner.begin(this.startedAt.getTime());
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
    const { config, registry, clock } = this.d;
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
        void this.d.broadcaster.send(orders.statusRequest());
      }
      this.report();
      await sleep(TICK_MS);
    }
    return null;
  }

  private connectedText(): string {
    const present = this.d.registry.list().filter((e) => !TurretRegistry.isGone(e.state));
    if (!present.length) return '0 connected';
    return `${present.length} connected: ${present.map((e) => `${e.name} (${e.uuid})`).join(', ')}`;
  }

  private async start(): Promise<void> {
    this.state = 'running';
    this.startedAt = new Date(this.d.clock.now());
    this.startedMono = this.d.clock.monotonic();
    for (const e of this.d.registry.list()) this.started.add(e.uuid);
    this.d.load?.planner.begin(this.startedAt.getTime());
    await this.replan();
    await this.broadcastStart();
    await this.d.store.updateRun(this.d.run.id, { state: 'running', startedAt: this.startedAt });
    this.d.log.info('test started', { runId: this.d.run.id, turrets: this.d.registry.size, runTime: this.d.config.run_time });
    this.report(true);
  }

  /** Oct turrets that can take load now: announced, neither leaving nor gone. */
  private async replan(): Promise<void> {
    const load = this.d.load;
    if (!load || this.stopMono !== null) return;
    const turrets = this.d.registry
      .list()
      .filter((e) => e.oct && (e.state === 'ready' || e.state === 'running'))
      .map((e) => ({ uuid: e.uuid, name: e.name, canons: e.canons }));
    if (await load.planner.update(turrets)) {
      load.timeline.replanned(this.elapsedSeconds(), load.planner.lastPlanId, load.planner.plans.size);
      this.d.log.info('load planned', { planId: load.planner.lastPlanId, turrets: load.planner.plans.size });
    }
  }

  /**
   * A running turret whose status, sent well after its plan went out, names an older plan missed
   * the order (a PUB message can be lost to a reconnect): send it again, at most every second.
   */
  private resendMissedPlans(): void {
    const load = this.d.load;
    const mono = this.d.clock.monotonic();
    if (!load || mono - this.lastPlanResendMono < PLAN_RESEND_EVERY_MS) return;
    const missed: string[] = [];
    for (const [uuid, plan] of load.planner.plans) {
      const e = this.d.registry.get(uuid);
      if (e && e.state === 'running' && (e.planId ?? 0) < plan.planId && e.lastSeenAt > plan.sentAt + PLAN_RESEND_EVERY_MS) missed.push(uuid);
    }
    if (!missed.length) return;
    this.lastPlanResendMono = mono;
    this.d.log.warn('re-sending a plan turrets did not take', { turrets: missed.join(', ') });
    void load.planner.resend(missed);
  }

  private broadcastStart(): Promise<void> {
    this.lastStartMono = this.d.clock.monotonic();
    return this.d.broadcaster.send(orders.setTransactionContext(this.d.config.transaction_context), orders.start());
  }

  private async runUntilTime(signal?: AbortSignal): Promise<void> {
    const endMono = this.startedMono! + this.d.config.run_time * 1000;
    while (this.d.clock.monotonic() < endMono) {
      if (signal?.aborted) {
        this.d.log.warn('stopping early: interrupted');
        return;
      }
      if (this.everyTurretGone()) {
        this.d.log.error('stopping early: no turret left running', { turrets: this.connectedText() });
        return;
      }
      this.watchLiveness();
      // A turret that left, was lost or came back: its share moves within a tick.
      void this.replan();
      this.resendMissedPlans();
      this.restartIdleTurrets();
      this.report();
      await sleep(Math.min(TICK_MS, Math.max(1, endMono - this.d.clock.monotonic())));
    }
  }

  /** Turrets still idle while the test runs missed `start` (or joined in a burst): send it again. */
  private restartIdleTurrets(): void {
    const mono = this.d.clock.monotonic();
    if (mono - this.lastStartMono < RESTART_EVERY_MS) return;
    if (this.d.registry.list().some((e) => e.state === 'ready')) void this.broadcastStart();
  }

  /** Every turret aborted or was killed (a lost one may come back, so it does not count). */
  private everyTurretGone(): boolean {
    const all = this.d.registry.list();
    return all.length > 0 && all.every((e) => e.state === 'aborted' || e.state === 'killed');
  }

  private watchLiveness(): void {
    const { registry, clock, config, log } = this.d;
    const mono = clock.monotonic();
    // Legacy turrets say nothing while running unless asked: ask before calling anyone lost.
    if (registry.longestSilenceMs() >= (config.turret_silence_timeout * 1000) / 2 && mono - this.lastProbeMono >= PROBE_EVERY_MS) {
      this.lastProbeMono = mono;
      void this.d.broadcaster.send(orders.statusRequest());
    }
    for (const e of registry.markSilentLost())
      log.warn('turret lost: silent too long', { turret: e.name, uuid: e.uuid, silentSeconds: config.turret_silence_timeout });
  }

  private async stop(): Promise<void> {
    this.stopMono = this.d.clock.monotonic();
    this.state = 'draining';
    await this.d.broadcaster.send(orders.stop());
    await this.d.store.updateRun(this.d.run.id, { state: 'draining' });
    this.d.log.info('stop sent; collecting in-flight results', { graceSeconds: this.d.config.stop_grace });
    this.report(true);
  }

  /**
   * Until every turret that was running has reported it is done: an oct turret with a post-stop,
   * non-running status whose seq matches the last batch received (nothing in flight); a legacy
   * turret with a post-stop `ready` and no legacy result for a second. Bounded by stop_grace.
   */
  private async collectInFlight(): Promise<void> {
    const { clock, config, registry } = this.d;
    const waitFor = registry.list().filter((e) => e.state === 'running' || e.state === 'stopping' || e.state === 'lost');
    const deadline = this.stopMono! + config.stop_grace * 1000;
    let lastRequest = this.stopMono!;
    while (clock.monotonic() < deadline) {
      const mono = clock.monotonic();
      if (this.settled(waitFor, mono)) return;
      // A legacy turret answers only once back in its idle loop; asking makes it say so at once.
      if (mono - lastRequest >= 1000) {
        lastRequest = mono;
        void this.d.broadcaster.send(orders.statusRequest());
      }
      this.watchLiveness();
      this.report();
      await sleep(TICK_MS);
    }
    const pending = waitFor.filter((e) => !this.turretSettled(e)).map((e) => `${e.name} (${e.uuid})`);
    if (pending.length) this.d.log.warn('stop_grace elapsed before every turret confirmed it was done', { pending: pending.join(', ') });
  }

  private turretSettled(e: TurretEntry): boolean {
    if (TurretRegistry.isGone(e.state) && e.state !== 'lost') return true;
    if (e.state === 'lost') return false;
    const postStop = e.lastStatusMono > this.stopMono! && e.state !== 'running' && e.state !== 'stopping';
    if (!postStop) return false;
    if (!e.oct) return true;
    const highest = this.d.seq.highestSeq(e.uuid) ?? 0;
    return e.lastStatusSeq !== null && e.lastStatusSeq <= highest;
  }

  private settled(waitFor: TurretEntry[], mono: number): boolean {
    if (!waitFor.every((e) => this.turretSettled(e) || e.state === 'lost')) return false;
    // Lost turrets are not waited for beyond this point, but results may still be in the pipe.
    const { ingest } = this.d;
    if (mono - ingest.lastResultMono < ANY_QUIET_MS || mono - this.stopMono! < ANY_QUIET_MS) return false;
    const legacy = waitFor.some((e) => !e.oct);
    const anonymous = ingest.lastLegacyResultMono > this.stopMono! - LEGACY_QUIET_MS;
    if ((legacy || anonymous) && mono - ingest.lastLegacyResultMono < LEGACY_QUIET_MS) return false;
    return true;
  }

  private async finish(config: ProjectConfig): Promise<LifecycleResult> {
    const { sink, ingest, registry, seq, log } = this.d;
    let drainError: string | null = null;
    try {
      await sink.drain(this.d.drainTimeoutMs);
      ingest.accepting = false;
      // Anything enqueued between the end of the drain and the flag above.
      await sink.drain(Math.min(this.d.drainTimeoutMs, 5_000));
    } catch (err) {
      ingest.accepting = false;
      drainError = (err as Error).message;
    }
    for (const e of registry.list()) if (e.oct) seq.countTrailing(e.uuid, e.lastStatusSeq);
    const w = sink.stats();
    const unwritten = w.queuedRows + w.spilledRows + w.inFlightRows;
    const error = drainError
      ? `the store did not catch up: ${drainError}`
      : unwritten > 0
        ? `the store did not catch up: ${unwritten} results not yet written (${w.spilledRows} in the spill file)${w.lastError ? `; last error: ${w.lastError}` : ''}`
        : null;
    const malformed = ingest.malformedSummary();
    if (malformed) log.warn('malformed messages during the run', { counts: malformed });
    if (seq.duplicates || seq.missingBatches) log.warn('batch sequence anomalies', { duplicates: seq.duplicates, missingBatches: seq.missingBatches });
    const state = error ? 'failed' : 'finished';
    this.state = state;
    const endedAt = new Date(this.d.clock.now());
    if (this.d.load) {
      try {
        await this.d.store.saveArtifact(this.d.run.id, LOAD_ARTIFACT, Buffer.from(JSON.stringify(this.d.load.timeline.data())));
      } catch (err) {
        log.error('could not save the load timeline', { error: err as Error });
      }
    }
    await this.d.store.updateRun(this.d.run.id, { state, endedAt, error, summary: this.summary() });
    await this.d.recorder.flush();
    log.info('test finished', { runId: this.d.run.id, transactions: this.d.live.transactions, runTime: config.run_time });
    this.report(true);
    return { state, error, startedAt: this.startedAt, endedAt };
  }

  private async fail(error: string): Promise<LifecycleResult> {
    this.state = 'failed';
    this.d.ingest.accepting = false;
    this.d.log.error(error);
    const endedAt = new Date(this.d.clock.now());
    await this.d.store.updateRun(this.d.run.id, { state: 'failed', endedAt, error, summary: this.summary() });
    await this.d.recorder.flush();
    this.report(true);
    return { state: 'failed', error, startedAt: null, endedAt };
  }

  summary(): Record<string, unknown> {
    const { ingest, seq, live } = this.d;
    return {
      transactions: live.transactions,
      errors: live.errors,
      malformed: { ...ingest.malformed },
      duplicates: seq.duplicates,
      missingBatches: seq.missingBatches,
      lateResults: ingest.late,
      ...(this.d.load
        ? { load: { started: this.d.load.timeline.startedTotal, dropped: this.d.load.timeline.droppedTotal, planId: this.d.load.planner.lastPlanId } }
        : {}),
    };
  }

  progress(): Progress {
    const { registry, live, ingest } = this.d;
    let malformed = 0;
    for (const k in ingest.malformed) malformed += ingest.malformed[k as keyof typeof ingest.malformed];
    return {
      state: this.state,
      elapsedSeconds: this.elapsedSeconds(),
      runTime: this.d.config.run_time,
      turrets: { total: registry.size, byState: registry.byState() },
      canonsRunning: registry.canonsRunning(),
      transactions: live.transactions,
      errors: live.errors,
      ratePerSecond: live.ratePerSecond(),
      droppedIterations: this.d.load?.timeline.droppedTotal ?? 0,
      malformed,
    };
  }

  /** About once a second (and on every phase change): progress callback and metrics gauges. */
  private report(force = false): void {
    const mono = this.d.clock.monotonic();
    if (!force && mono - this.lastProgressMono < 1000) return;
    this.lastProgressMono = mono;
    const p = this.progress();
    const { metrics } = this.d;
    metrics.setRunState(p.state, p.elapsedSeconds);
    metrics.setTurrets(p.turrets.byState, p.canonsRunning);
    metrics.setWriter(this.d.sink.stats());
    try {
      this.d.onProgress?.(p);
    } catch (err) {
      this.d.log.warn('progress callback failed', { error: err as Error });
    }
  }
}
