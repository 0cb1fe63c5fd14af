// The per-second load report, oct turret → HQ, for planned runs: what the plan asked of this turret
// in one second of plan time and what it did, so the HQ can draw target against achieved and judge
// whether the generator kept up. One JSON frame:
//
//   {"oct":1,"type":"load","uuid":"…","turret":"…","plan_id":3,"second":12,"target":166.7,
//    "started":167,"dropped":0,"lag_p99_ms":0.4,"lag_max_ms":1.2,"loop_delay_p99_ms":10.1,
//    "started_total":2004,"dropped_total":0}
//
// `second` counts from the plan's t0; the *_total counters are cumulative, so a lost report costs
// one point of the timeline, never the run's totals.

import type { LoadModel, LoadShape } from './load-plan.ts';
import { MAX_ELAPSED_SECONDS } from './results.ts';

/** One second of one turret's load, as reported and as kept in the run's timeline. */
export interface LoadSecond {
  second: number;
  /** Open model: iterations planned in this second; closed: canons planned. */
  target: number;
  /** Iterations started in this second. */
  started: number;
  /** Iterations due in this second that could not start (no free canon, or a missed pacing slot). */
  dropped: number;
  /** Schedule lag (actual − intended start) of the iterations started, milliseconds. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** Event-loop delay p99 over the second, milliseconds. */
  loopDelayP99Ms: number;
  /** Canons running during the second. */
  canons: number;
}

export interface LoadReport extends LoadSecond {
  uuid: string;
  turret: string;
  planId: number;
  startedTotal: number;
  droppedTotal: number;
}

export function encodeLoadReport(r: LoadReport): string {
  return JSON.stringify({
    oct: 1,
    type: 'load',
    uuid: r.uuid,
    turret: r.turret,
    plan_id: r.planId,
    second: r.second,
    target: r.target,
    started: r.started,
    dropped: r.dropped,
    lag_p99_ms: r.lagP99Ms,
    lag_max_ms: r.lagMaxMs,
    loop_delay_p99_ms: r.loopDelayP99Ms,
    canons: r.canons,
    started_total: r.startedTotal,
    dropped_total: r.droppedTotal,
  });
}

// ---- the run's timeline, as the HQ saves it with the run and the report reads it -----------------

export const LOAD_ARTIFACT = 'load.json';

export interface TurretLoad {
  uuid: string;
  name: string;
  seconds: LoadSecond[];
  startedTotal: number;
  droppedTotal: number;
}

/** The artifact's shape (version 1). */
export interface LoadTimelineData {
  version: 1;
  model: LoadModel;
  t0: number;
  /** The project's shape, when it has one: the run's target per second comes from it. */
  shape: LoadShape | null;
  /** Summed over turrets; lag and loop delay are the worst turret's. */
  seconds: LoadSecond[];
  turrets: TurretLoad[];
  totals: { started: number; dropped: number };
  /** Re-plans, in order: when (seconds from t0) and how many turrets shared the load. */
  replans: Array<{ at: number; planId: number; turrets: number }>;
}

/** A run longer than this (about 115 days) is not a load test. */
const MAX_COUNT = 1e12;
const MAX_MS = 1e9;

/** Validates a decoded `"type": "load"` object; the reason names the key at fault. */
export function parseLoadReport(o: Record<string, unknown>): { ok: true; report: LoadReport } | { ok: false; reason: string } {
  if (typeof o.uuid !== 'string' || o.uuid === '') return { ok: false, reason: 'load: "uuid" must be a non-empty string' };
  const num = (key: string, max: number, integer = false): number | string => {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max || (integer && !Number.isInteger(v))) {
      return `load: "${key}" must be a${integer ? 'n integer' : ' number'} from 0 to ${max}`;
    }
    return v;
  };
  const fields = {
    planId: num('plan_id', Number.MAX_SAFE_INTEGER, true),
    second: num('second', MAX_ELAPSED_SECONDS, true),
    target: num('target', MAX_COUNT),
    started: num('started', MAX_COUNT, true),
    dropped: num('dropped', MAX_COUNT, true),
    lagP99Ms: num('lag_p99_ms', MAX_MS),
    lagMaxMs: num('lag_max_ms', MAX_MS),
    loopDelayP99Ms: num('loop_delay_p99_ms', MAX_MS),
    canons: num('canons', MAX_COUNT, true),
    startedTotal: num('started_total', MAX_COUNT, true),
    droppedTotal: num('dropped_total', MAX_COUNT, true),
  };
  for (const v of Object.values(fields)) if (typeof v === 'string') return { ok: false, reason: v };
  return { ok: true, report: { uuid: o.uuid, turret: typeof o.turret === 'string' ? o.turret : '', ...(fields as Record<keyof typeof fields, number>) } };
}
