// The shape of the load over time and a turret's share of it: the `plan` order the HQ sends each oct
// turret, and the pure arithmetic both sides use to read it. The HQ plans (hq/load-planner.ts); a
// turret only evaluates its plan on its clock, so the sum over turrets equals the target at every
// instant without any further message, and a re-plan changes only the shares.
//
// Units: times in seconds from `t0` (the run's start, Unix ms); a target is canons (closed model)
// or iterations per second (open model). Between stages the target ramps linearly, from
// `startTarget` before the first; after the last stage it holds the last target.

export type LoadModel = 'open' | 'closed';

export interface Stage {
  /** Seconds; 0 is a jump. */
  duration: number;
  target: number;
}

export interface LoadShape {
  startTarget: number;
  stages: Stage[];
}

export interface TurretPlan {
  /** Grows with every re-plan of a run; a turret ignores a plan older than the one it follows. */
  planId: number;
  model: LoadModel;
  /** Unix ms of plan time 0 (the run's start). */
  t0: number;
  shape: LoadShape;
  /** The weights of every turret that shares this shape, and which one this turret is. */
  weights: number[];
  index: number;
  /** Open model: the most iterations in flight at once (the canon pool). */
  maxCanons: number;
  /** Closed model: seconds from one iteration's start to the next one's (0: back to back). */
  pacing: number;
  /** Unix ms on the HQ's clock when the plan was sent: a turret whose clock is off says so. */
  sentAt: number;
}

/** Σ of the stage durations, seconds. */
export function shapeDuration(shape: LoadShape): number {
  let s = 0;
  for (const st of shape.stages) s += st.duration;
  return s;
}

/** The target at plan time t (seconds); 0 before the start. */
export function targetAt(shape: LoadShape, t: number): number {
  if (t < 0) return 0;
  let from = shape.startTarget;
  let at = 0;
  for (const st of shape.stages) {
    if (t < at + st.duration) return from + ((st.target - from) * (t - at)) / st.duration;
    at += st.duration;
    from = st.target;
  }
  return from;
}

/** ∫₀ᵗ target: the iterations an open model has planned by plan time t. */
export function cumulativeAt(shape: LoadShape, t: number): number {
  if (t <= 0) return 0;
  let from = shape.startTarget;
  let at = 0;
  let sum = 0;
  for (const st of shape.stages) {
    const span = Math.min(t, at + st.duration) - at;
    if (span > 0) {
      const slope = (st.target - from) / st.duration;
      sum += from * span + 0.5 * slope * span * span;
    }
    if (t <= at + st.duration) return sum;
    at += st.duration;
    from = st.target;
  }
  return sum + from * (t - at);
}

/**
 * The plan time at which the cumulative count reaches `count` (the inverse of cumulativeAt);
 * Infinity when the target falls to 0 for good before that.
 */
export function timeOfCumulative(shape: LoadShape, count: number): number {
  if (count <= 0) return 0;
  let from = shape.startTarget;
  let at = 0;
  let sum = 0;
  for (const st of shape.stages) {
    if (st.duration > 0) {
      const slope = (st.target - from) / st.duration;
      const area = ((from + st.target) / 2) * st.duration;
      if (sum + area >= count) {
        const c = count - sum;
        // from·x + slope·x²/2 = c, the root in [0, duration].
        let x: number;
        if (Math.abs(slope) < 1e-12) x = c / from;
        else {
          const disc = Math.max(0, from * from + 2 * slope * c);
          // The cancellation-free form of (-from + √disc) / slope; from 0 with a count so small that
          // 2·slope·c underflows to 0, the same root as √(2c/slope).
          const denom = from + Math.sqrt(disc);
          x = denom > 0 ? (2 * c) / denom : Math.sqrt((2 * c) / slope);
        }
        return at + Math.min(st.duration, Math.max(0, x));
      }
      sum += area;
    }
    at += st.duration;
    from = st.target;
  }
  return from > 0 ? at + (count - sum) / from : Infinity;
}

/**
 * Splits a whole number over weights so the parts add up to it exactly (largest remainder; ties go
 * to the lower index), the same on every turret.
 */
export function apportion(total: number, weights: number[]): number[] {
  const n = Math.max(0, Math.round(total));
  const sum = weights.reduce((a, w) => a + Math.max(0, w), 0);
  if (weights.length === 0) return [];
  if (sum <= 0) return weights.map((_, i) => (i === 0 ? n : 0));
  const exact = weights.map((w) => (n * Math.max(0, w)) / sum);
  const parts = exact.map((e) => Math.floor(e + 1e-9));
  let left = n - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, rem: e - parts[i]! })).sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) parts[order[k]!.i]! += 1;
  return parts;
}

/** This turret's fraction of an open-model rate. */
export function shareOf(plan: Pick<TurretPlan, 'weights' | 'index'>): number {
  const sum = plan.weights.reduce((a, w) => a + Math.max(0, w), 0);
  if (sum <= 0) return plan.index === 0 ? 1 : 0;
  return Math.max(0, plan.weights[plan.index] ?? 0) / sum;
}

/** Closed model: the canons this turret runs at plan time t. */
export function canonsAt(plan: TurretPlan, t: number): number {
  return apportion(targetAt(plan.shape, t), plan.weights)[plan.index] ?? 0;
}

// ---- the wire form: {"command":"plan","msg":{...}} -------------------------------------------------

export const PLAN_VERSION = 1;
/** Guards a turret against a plan that would make it allocate without bound. */
export const MAX_STAGES = 1000;
export const MAX_PLAN_TURRETS = 10_000;

export interface PlanWire {
  v: number;
  uuid: string;
  plan_id: number;
  model: LoadModel;
  t0: number;
  start_target: number;
  stages: Stage[];
  weights: number[];
  index: number;
  max_canons: number;
  pacing: number;
  sent_at: number;
}

export function planToWire(uuid: string, p: TurretPlan): PlanWire {
  return {
    v: PLAN_VERSION,
    uuid,
    plan_id: p.planId,
    model: p.model,
    t0: p.t0,
    start_target: p.shape.startTarget,
    stages: p.shape.stages.map((s) => ({ duration: s.duration, target: s.target })),
    weights: p.weights,
    index: p.index,
    max_canons: p.maxCanons,
    pacing: p.pacing,
    sent_at: p.sentAt,
  };
}

const finiteNonNeg = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export type ParsedPlan = { ok: true; uuid: string; plan: TurretPlan } | { ok: false; reason: string };

/** Validates a plan order's msg; anything absurd is refused with the key at fault. */
export function parsePlanWire(msg: unknown): ParsedPlan {
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { ok: false, reason: 'plan: msg must be an object' };
  const o = msg as Record<string, unknown>;
  if (o.v !== PLAN_VERSION) return { ok: false, reason: `plan: unsupported version ${JSON.stringify(o.v)} (this turret reads ${PLAN_VERSION})` };
  if (typeof o.uuid !== 'string' || o.uuid === '') return { ok: false, reason: 'plan: "uuid" must be a non-empty string' };
  if (!Number.isSafeInteger(o.plan_id) || (o.plan_id as number) < 0) return { ok: false, reason: 'plan: "plan_id" must be a non-negative integer' };
  if (o.model !== 'open' && o.model !== 'closed') return { ok: false, reason: 'plan: "model" must be "open" or "closed"' };
  if (!finiteNonNeg(o.t0)) return { ok: false, reason: 'plan: "t0" must be Unix milliseconds' };
  if (!finiteNonNeg(o.start_target)) return { ok: false, reason: 'plan: "start_target" must be a finite number >= 0' };
  if (!Array.isArray(o.stages) || o.stages.length === 0 || o.stages.length > MAX_STAGES)
    return { ok: false, reason: `plan: "stages" must be a list of 1 to ${MAX_STAGES} stages` };
  const stages: Stage[] = [];
  for (const [i, s] of o.stages.entries()) {
    const st = s as Record<string, unknown> | null;
    if (typeof st !== 'object' || st === null || !finiteNonNeg(st.duration) || !finiteNonNeg(st.target)) {
      return { ok: false, reason: `plan: stages[${i}] must be {"duration": seconds >= 0, "target": >= 0}` };
    }
    stages.push({ duration: st.duration, target: st.target });
  }
  if (!Array.isArray(o.weights) || o.weights.length === 0 || o.weights.length > MAX_PLAN_TURRETS || !o.weights.every(finiteNonNeg)) {
    return { ok: false, reason: `plan: "weights" must be a list of 1 to ${MAX_PLAN_TURRETS} finite numbers >= 0` };
  }
  if (!Number.isSafeInteger(o.index) || (o.index as number) < 0 || (o.index as number) >= o.weights.length)
    return { ok: false, reason: 'plan: "index" must point into "weights"' };
  if (!Number.isSafeInteger(o.max_canons) || (o.max_canons as number) < 1) return { ok: false, reason: 'plan: "max_canons" must be a positive integer' };
  if (!finiteNonNeg(o.pacing)) return { ok: false, reason: 'plan: "pacing" must be a finite number of seconds >= 0' };
  if (!finiteNonNeg(o.sent_at)) return { ok: false, reason: 'plan: "sent_at" must be Unix milliseconds' };
  return {
    ok: true,
    uuid: o.uuid,
    plan: {
      planId: o.plan_id as number,
      model: o.model,
      t0: o.t0,
      shape: { startTarget: o.start_target, stages },
      weights: o.weights as number[],
      index: o.index as number,
      maxCanons: o.max_canons as number,
      pacing: o.pacing,
      sentAt: o.sent_at,
    },
  };
}
