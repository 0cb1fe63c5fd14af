// The HQ's load plan: which turrets share which load shape, and with what weight. Pure functions
// (planLoad) plus a small stateful wrapper (LoadPlanner) that re-plans when the set of turrets
// that can take load changes — a join, a SIGTERM, an abort, a loss — and sends the new plans.
//
// Pools: turrets whose config entry has its own `stages` share that shape among themselves (the
// replicas of one entry); every other oct turret shares the project's shape. Within a pool the
// target is split by weight (the entry's `weight`, else its `canons`, else what the turret says it
// has). Legacy turrets cannot follow a plan: they run their own closed loop and are left out.
import type { ProjectConfig } from '../protocol/config.ts';
import type { LoadModel, LoadShape, TurretPlan } from '../protocol/load-plan.ts';

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

export interface PlanSender {
  sendPlans(plans: Map<string, TurretPlan>): Promise<void>;
}

/** Holds the current plan of a run and re-plans when the turrets that take load change. */
export class LoadPlanner {
  private planId = 0;
  private signature = '';
  private t0: number | null = null;
  private current = new Map<string, TurretPlan>();

  constructor(
    private readonly spec: LoadSpec,
    private readonly sender: PlanSender,
    /** Unix ms now (the HQ's clock). */
    private readonly now: () => number,
  ) {}

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
    const now = this.now();
    // Plan ids grow across an HQ restart too (a resumed run's turrets hold the old HQ's plans).
    this.planId = Math.max(this.planId + 1, Math.floor(now - this.t0));
    this.current = planLoad(this.spec, turrets, this.t0, this.planId, now);
    await this.sender.sendPlans(this.current);
    return true;
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
