// The HQ's load plan: which turrets share which load shape, and with what weight. Pure functions
// (planLoad) plus a small stateful wrapper (LoadPlanner) that re-plans when the set of turrets
// that can take load changes — a join, a SIGTERM, an abort, a loss — and sends the new plans.
//
// Pools: turrets whose config entry has its own `stages` share that shape among themselves (the
// replicas of one entry); every other oct turret shares the project's shape. Within a pool the
// target is split by weight (the entry's `weight`, else its `canons`, else what the turret says it
// has). Legacy turrets cannot follow a plan: they run their own closed loop and are left out.
import type { ProjectConfig } from '../protocol/config.ts';
import { type LoadModel, type LoadShape, MAX_STAGES, type TurretPlan, targetAt } from '../protocol/load-plan.ts';

export interface LoadSpec {
  model: LoadModel;
  /** The project's shape; null when the project has no stages (its turrets run unplanned). */
  project: LoadShape | null;
  pacing: number;
  entries: Map<string, { shape: LoadShape | null; weight: number | null; maxCanons: number | null; pacing: number | null; canons: number }>;
}

export interface PlannableTurret {
  uuid: string;
  name: string;
  /** The canons the turret announced, the weight of last resort. */
  canons: number | null;
}

/** Open-model pool size when max_canons is not set (at least; more when canons says so). */
export const DEFAULT_MAX_CANONS = 100;

export function loadSpecOf(config: ProjectConfig): LoadSpec | null {
  const entries: LoadSpec['entries'] = new Map();
  for (const t of config.turrets) {
    entries.set(t.name, {
      shape: t.stages ? { startTarget: t.start_target ?? 0, stages: t.stages } : null,
      weight: t.weight ?? null,
      maxCanons: t.max_canons ?? null,
      pacing: t.pacing ?? null,
      canons: t.canons,
    });
  }
  const project = config.stages ? { startTarget: config.start_target, stages: config.stages } : null;
  if (!project && ![...entries.values()].some((e) => e.shape)) return null;
  return { model: config.model, project, pacing: config.pacing, entries };
}

/** One plan per turret that can follow one; turrets absent from the map run unplanned. */
export function planLoad(spec: LoadSpec, turrets: PlannableTurret[], t0: number, planId: number, sentAt = t0): Map<string, TurretPlan> {
  const pools = new Map<string, { shape: LoadShape; members: PlannableTurret[] }>();
  for (const t of turrets) {
    const entry = spec.entries.get(t.name);
    const key = entry?.shape ? `entry:${t.name}` : 'project';
    const shape = entry?.shape ?? spec.project;
    if (!shape) continue;
    let pool = pools.get(key);
    if (!pool) pools.set(key, (pool = { shape, members: [] }));
    pool.members.push(t);
  }
  const plans = new Map<string, TurretPlan>();
  for (const { shape, members } of pools.values()) {
    // Every turret must compute the same split: order by uuid, not by arrival.
    members.sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
    const weights = members.map((t) => {
      const e = spec.entries.get(t.name);
      return e?.weight ?? e?.canons ?? (t.canons !== null && t.canons > 0 ? t.canons : 1);
    });
    members.forEach((t, index) => {
      const e = spec.entries.get(t.name);
      plans.set(t.uuid, {
        planId,
        model: spec.model,
        t0,
        shape,
        weights,
        index,
        // An open-model pool sized by `canons` alone would be small: a stall of the target needs
        // rate × stall canons at once, or iterations are dropped.
        maxCanons: e?.maxCanons ?? Math.max(DEFAULT_MAX_CANONS, e?.canons ?? t.canons ?? 0),
        pacing: e?.pacing ?? spec.pacing,
        sentAt,
      });
    });
  }
  return plans;
}

/**
 * The shape with its current stage's target changed from plan time t: the past is kept exactly
 * (the current stage is cut at t, so the targets and the open model's cumulative count up to t do
 * not move), the load jumps to `target` and holds it until the current stage would have ended, and
 * later stages follow as planned (ramping from the new target). After the last stage, it holds the
 * new target to the end.
 */
export function retargetShape(shape: LoadShape, t: number, target: number): LoadShape {
  const stages: LoadShape['stages'] = [];
  let at = 0;
  let i = 0;
  for (; i < shape.stages.length; i++) {
    const st = shape.stages[i]!;
    if (t < at + st.duration) break;
    stages.push(st);
    at += st.duration;
  }
  const now = targetAt(shape, t);
  if (i < shape.stages.length) {
    const current = shape.stages[i]!;
    if (t > at) stages.push({ duration: t - at, target: now });
    stages.push({ duration: 0, target }, { duration: at + current.duration - t, target }, ...shape.stages.slice(i + 1));
  } else {
    if (t > at) stages.push({ duration: t - at, target: now });
    stages.push({ duration: 0, target });
  }
  if (stages.length > MAX_STAGES) throw new Error(`too many target changes: a plan holds at most ${MAX_STAGES} stages`);
  return { startTarget: shape.startTarget, stages };
}

export interface PlanSender {
  sendPlans(plans: Map<string, TurretPlan>): Promise<void>;
}

/** Holds the current plan of a run and re-plans when the turrets that take load change. */
export class LoadPlanner {
  private planId = 0;
  private signature = '';
  private t0: number | null = null;
  private current = new Map<string, TurretPlan>();

  private readonly spec: LoadSpec;
  private turrets: PlannableTurret[] = [];

  constructor(
    spec: LoadSpec,
    private readonly sender: PlanSender,
    /** Unix ms now (the HQ's clock). */
    private readonly now: () => number,
  ) {
    // Retargeting changes the project's shape: this planner's copy, not the caller's.
    this.spec = { ...spec, entries: new Map(spec.entries) };
  }

  get model(): LoadModel {
    return this.spec.model;
  }

  /** The project's shape (null when every turret follows its own entry's stages). */
  get projectShape(): LoadShape | null {
    return this.spec.project;
  }

  get plans(): ReadonlyMap<string, TurretPlan> {
    return this.current;
  }

  get lastPlanId(): number {
    return this.planId;
  }

  /** Unix ms of the run's plan time 0, once the run started. */
  get startedAt(): number | null {
    return this.t0;
  }

  /** Sets the run's plan time 0 (Unix ms): the start, or the adopted run's start. */
  begin(t0: number): void {
    this.t0 = t0;
  }

  /**
   * Re-plans if the set of turrets changed since the last plan; resolves once the plans are sent.
   * Returns whether a new plan went out.
   */
  async update(turrets: PlannableTurret[]): Promise<boolean> {
    if (this.t0 === null) return false;
    const signature = turrets
      .map((t) => `${t.uuid}:${t.name}:${t.canons ?? ''}`)
      .sort()
      .join('|');
    if (signature === this.signature) return false;
    this.signature = signature;
    this.turrets = turrets;
    await this.send();
    return true;
  }

  /**
   * Changes the project's target from now to the end of the current stage (retargetShape) and
   * sends every turret its new plan. Returns the shapes before and after, and the target before.
   */
  async retarget(target: number): Promise<{ from: number; shape: LoadShape }> {
    const project = this.spec.project;
    if (this.t0 === null) throw new Error('the test has not started');
    if (!project) throw new Error('every turret follows its own stages (turrets[].stages): there is no project target to change');
    const t = Math.max(0, (this.now() - this.t0) / 1000);
    const from = targetAt(project, t);
    this.spec.project = retargetShape(project, t, target);
    await this.send();
    return { from, shape: this.spec.project };
  }

  private async send(): Promise<void> {
    const now = this.now();
    // Plan ids grow across an HQ restart too (a resumed run's turrets hold the old HQ's plans).
    this.planId = Math.max(this.planId + 1, Math.floor(now - this.t0!));
    this.current = planLoad(this.spec, this.turrets, this.t0!, this.planId, now);
    await this.sender.sendPlans(this.current);
  }

  /** Sends these turrets their current plan again (one they said they do not follow). */
  async resend(uuids: string[]): Promise<void> {
    const again = new Map<string, TurretPlan>();
    for (const u of uuids) {
      const plan = this.current.get(u);
      if (plan) again.set(u, plan);
    }
    if (again.size) await this.sender.sendPlans(again);
  }
}
