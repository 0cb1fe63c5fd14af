// A turret following the HQ's plan (protocol/load-plan.ts), in either model:
//  - open: iterations start at the times the plan's rate gives, on whichever canon of the pool is
//    free; with none free (and the pool at max_canons) the iteration is dropped and counted. Each
//    result carries the latency from its intended start as well as its service time.
//  - closed: the plan gives the number of canons at each moment; canons are started, and stopped
//    after finishing their iteration, to follow it. With `pacing`, each canon starts an iteration
//    every `pacing` seconds; a slot missed entirely (the previous iteration ran over) is dropped.
// A new plan (a re-plan after turrets joined or left) takes over at once, from where the old one
// stood: no burst, no gap.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { MAX_CANONS_LIMIT } from '../protocol/config.ts';
import { canonsAt, cumulativeAt, shareOf, targetAt, timeOfCumulative, type TurretPlan } from '../protocol/load-plan.ts';
import type { LoadReport } from '../protocol/load-report.ts';
import { buildTransaction, type CanonDeps, runIteration } from './canon.ts';
import { LoadMeter } from './load-meter.ts';
import type { Transaction } from './script-api.ts';

export interface PlannedDeps {
  clock: Clock;
  log: Logger;
  /** Canon dependencies for canon `index` (the turret's, as for an unplanned run). */
  canonDeps(index: number, stopRequested: () => boolean): CanonDeps;
  /** The turret's own ceiling on its pool (turret config max_canons). */
  maxCanonsCap: number;
  /** False while the result buffer is full (the HQ not reading): due iterations are dropped. */
  hasRoom(): boolean;
  emitLoad(report: Omit<LoadReport, 'uuid' | 'turret'>): void;
  /** A canon whose constructor threw, or that crashed: the turret aborts. */
  fail(err: unknown, index: number): void;
}

/**
 * Monotonic ms of a plan's time 0 on this turret. Turrets follow the plan by wall clock (so a slow
 * network does not shift the load); a clock that disagrees with the HQ's by more than a delivery
 * could explain is not trusted, and the HQ's clock at sending is used instead.
 */
export function anchorPlan(plan: TurretPlan, clock: Clock, log: Logger): number {
  const now = clock.now();
  const skew = now - plan.sentAt;
  const mono = clock.monotonic();
  if (skew < -1000 || skew > 5000) {
    log.warn("this machine's clock disagrees with the HQ's: following the plan by the HQ's clock as of receipt", { skewMs: Math.round(skew) });
    return mono - (plan.sentAt - plan.t0);
  }
  return mono - (now - plan.t0);
}

/**
 * How far ahead of an iteration's time the scheduler stops sleeping and spins on the event loop
 * (ms): a timer fires up to a millisecond late. Spinning costs CPU, so it is allowed only while it
 * takes at most SPIN_CPU_SHARE of the time between iterations; at higher rates iterations start
 * from a 1 ms timer, up to about a millisecond late, each still timed from its intended start.
 */
const SPIN_MS = 1.2;
const SPIN_CPU_SHARE = 0.05;
/** At most this many overdue iterations are handled per turn of the event loop. */
const MAX_FIRES_PER_TURN = 2000;
const CLOSED_TICK_MS = 20;
const REPORT_EVERY_MS = 200;

interface Canon {
  index: number;
  tx: Transaction;
  deps: CanonDeps;
  stop: boolean;
}

export class PlannedVolley {
  private plan: TurretPlan;
  private readonly monoAtT0: number;
  private readonly meter: LoadMeter;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private capWarned = false;
  private immediate: NodeJS.Immediate | null = null;
  private readonly reportTimer: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();
  // open model
  private readonly idle: Canon[] = [];
  private poolSize = 0;
  private nextPos = 0;
  // closed model
  private readonly loops: Canon[] = [];
  private nextIndex = 0;

  constructor(
    plan: TurretPlan,
    private readonly d: PlannedDeps,
    /** Monotonic ms of plan time 0 on this turret. */
    monoAtT0: number,
  ) {
    this.plan = plan;
    this.monoAtT0 = monoAtT0;
    this.meter = new LoadMeter({
      monoAtT0,
      targetOf: (sec) =>
        this.plan.model === 'open'
          ? shareOf(this.plan) * (cumulativeAt(this.plan.shape, sec + 1) - cumulativeAt(this.plan.shape, sec))
          : canonsAt(this.plan, sec),
      canons: () => this.running,
      planId: () => this.plan.planId,
      emit: (r) => d.emitLoad(r),
    });
    // A late joiner starts from now, not from t0: the past is not owed.
    this.nextPos = shareOf(plan) * cumulativeAt(plan.shape, this.planTime());
    this.reportTimer = setInterval(() => this.meter.flush(this.d.clock.monotonic()), REPORT_EVERY_MS);
    this.wake();
  }

  /** Canons in an iteration (open) or looping (closed). */
  get running(): number {
    return this.plan.model === 'open' ? this.poolSize - this.idle.length : this.loops.filter((c) => !c.stop).length;
  }

  get planId(): number {
    return this.plan.planId;
  }

  get dropped(): number {
    return this.meter.droppedTotal;
  }

  private planTime(mono = this.d.clock.monotonic()): number {
    return (mono - this.monoAtT0) / 1000;
  }

  /** Takes a re-plan: the same run (t0), new shares. */
  replan(plan: TurretPlan): void {
    if (plan.planId <= this.plan.planId) return;
    if (plan.model === 'open') {
      const t = this.planTime();
      // Iterations still owed until the next start under the old share, carried into the new one.
      const owed = this.nextPos - shareOf(this.plan) * cumulativeAt(this.plan.shape, t);
      this.nextPos = shareOf(plan) * cumulativeAt(plan.shape, t) + Math.max(-MAX_FIRES_PER_TURN, Math.min(1, owed));
    }
    this.plan = plan;
    this.wake();
  }

  /** Stops starting iterations; resolves when those in flight have finished. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.clearWake();
    for (const c of this.loops) c.stop = true;
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
    clearInterval(this.reportTimer);
    this.meter.flush(this.d.clock.monotonic(), true);
    this.meter.close();
  }

  private clearWake(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private wake(): void {
    this.clearWake();
    if (this.stopping) return;
    if (this.plan.model === 'open') this.openTurn();
    else this.closedTurn();
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  // ---- open model ---------------------------------------------------------------------------

  private dueMono(): number {
    const share = shareOf(this.plan);
    if (share <= 0) return Infinity;
    return this.monoAtT0 + 1000 * timeOfCumulative(this.plan.shape, this.nextPos / share);
  }

  private openTurn(): void {
    this.timer = null;
    this.immediate = null;
    if (this.stopping) return;
    const now = this.d.clock.monotonic();
    let due = this.dueMono();
    let fired = 0;
    while (due <= now && fired < MAX_FIRES_PER_TURN) {
      this.fire(due, now);
      this.nextPos += 1;
      fired++;
      due = this.dueMono();
    }
    if (!Number.isFinite(due)) return; // nothing more planned for this turret until a re-plan
    const nowAfter = this.d.clock.monotonic();
    const wait = due - nowAfter;
    const rate = shareOf(this.plan) * targetAt(this.plan.shape, this.planTime(nowAfter));
    const spin = rate > 0 ? Math.min(SPIN_MS, (SPIN_CPU_SHARE * 1000) / rate) : SPIN_MS;
    // The spin goes through setImmediate, so I/O still runs in between.
    if (wait <= spin) this.immediate = setImmediate(() => this.openTurn());
    else this.timer = setTimeout(() => this.openTurn(), Math.min(1000, Math.max(1, Math.floor(wait - spin))));
  }

  private fire(intendedMono: number, nowMono: number): void {
    if (!this.d.hasRoom()) {
      this.meter.dropped(intendedMono);
      return;
    }
    let canon = this.idle.pop();
    if (!canon) {
      if (this.poolSize >= Math.min(this.plan.maxCanons, this.d.maxCanonsCap)) {
        this.meter.dropped(intendedMono);
        return;
      }
      const created = this.newCanon(this.poolSize);
      if (!created) return;
      canon = created;
      this.poolSize++;
    }
    this.meter.started(intendedMono, nowMono);
    const c = canon;
    this.track(
      runIteration(c.deps, c.tx, intendedMono).then(
        () => void this.idle.push(c),
        (err) => this.d.fail(err, c.index),
      ),
    );
  }

  private newCanon(index: number): Canon | null {
    const canon = { index, stop: false } as Canon;
    canon.deps = this.d.canonDeps(index, () => this.stopping || canon.stop);
    try {
      canon.tx = buildTransaction(canon.deps);
    } catch (err) {
      this.d.fail(err, index);
      this.stopping = true;
      return null;
    }
    return canon;
  }

  // ---- closed model -------------------------------------------------------------------------

  private closedTurn(): void {
    this.timer = null;
    if (this.stopping) return;
    const planned = canonsAt(this.plan, this.planTime());
    // The config refuses shares past the limit; a retarget or an unlisted turret can still ask.
    const want = Math.min(planned, MAX_CANONS_LIMIT);
    if (planned > want && !this.capWarned) {
      this.capWarned = true;
      this.d.log.warn('the plan asks for more canons than this turret may run: running its limit', { planned, limit: want });
    }
    const active = this.loops.filter((c) => !c.stop);
    if (active.length < want) {
      for (let i = active.length; i < want; i++) {
        const canon = this.newCanon(this.nextIndex++);
        if (!canon) return;
        this.loops.push(canon);
        this.track(
          this.closedLoop(canon).then(
            () => void this.loops.splice(this.loops.indexOf(canon), 1),
            (err) => this.d.fail(err, canon.index),
          ),
        );
      }
    } else if (active.length > want) {
      // The newest canons go first; each finishes the iteration it is in.
      for (const c of active.slice(want)) c.stop = true;
    }
    this.timer = setTimeout(() => this.closedTurn(), CLOSED_TICK_MS);
  }

  private async closedLoop(c: Canon): Promise<void> {
    const { clock } = this.d;
    const pacingMs = this.plan.pacing * 1000;
    let slot = clock.monotonic();
    while (!c.stop && !this.stopping) {
      if (pacingMs > 0) {
        const now = clock.monotonic();
        if (now < slot) {
          await new Promise((r) => setTimeout(r, slot - now));
          if (c.stop || this.stopping) break;
        }
        const actual = clock.monotonic();
        this.meter.started(slot, actual);
        await runIteration(c.deps, c.tx, slot);
        slot += pacingMs;
        // Slots that passed while the iteration ran over are not made up later in a burst.
        const late = clock.monotonic() - slot;
        if (late > pacingMs) {
          const missed = Math.floor(late / pacingMs);
          this.meter.dropped(slot, missed);
          slot += missed * pacingMs;
        }
      } else {
        const now = clock.monotonic();
        this.meter.started(now, now);
        await runIteration(c.deps, c.tx);
      }
      if (!c.deps.hasRoom?.()) await c.deps.waitForRoom();
      await yieldToLoop();
    }
  }
}
