// Whether a planned run measured the system or the load generator. A generator that could not start
// iterations when the plan said (no free canon, a blocked event loop) produces less load than asked
// and, in the closed model, latencies that hide the stall; such a run is INVALID, whatever its
// thresholds say. Judged from the load timeline the HQ saved with the run (protocol/load-report.ts).
//
// The bounds (config `validity`, defaults in docs/workload.md):
//  - dropped iterations above `max_dropped_ratio` of those due;
//  - more than `max_bad_seconds_ratio` of the turret-seconds (and more than one) with a schedule
//    lag p99 above `max_schedule_lag_ms`, or an event-loop delay p99 above `max_loop_delay_ms`. A
//    turret's first second is not judged: its code runs cold and its connections open there.
import type { ProjectConfig } from '../protocol/config.ts';
import type { LoadSecond, LoadTimelineData } from '../protocol/load-report.ts';

export type ValidityBounds = ProjectConfig['validity'];

export interface Validity {
  /** False for an unplanned run (canons + rampup): nothing to judge it against. */
  judged: boolean;
  valid: boolean;
  reasons: string[];
  started: number;
  dropped: number;
  /** dropped / (started + dropped). */
  droppedRatio: number;
  /** Mean iterations started per second over the seconds after the first. */
  achievedRate: number | null;
  turretSeconds: number;
  lagSecondsOver: number;
  loopSecondsOver: number;
  bounds: ValidityBounds;
}

export function judgeValidity(timeline: LoadTimelineData | null, bounds: ValidityBounds): Validity {
  if (!timeline) {
    return {
      judged: false,
      valid: true,
      reasons: [],
      started: 0,
      dropped: 0,
      droppedRatio: 0,
      achievedRate: null,
      turretSeconds: 0,
      lagSecondsOver: 0,
      loopSecondsOver: 0,
      bounds,
    };
  }
  const { started, dropped } = timeline.totals;
  const droppedRatio = started + dropped > 0 ? dropped / (started + dropped) : 0;
  let turretSeconds = 0;
  let lagOver = 0;
  let loopOver = 0;
  for (const t of timeline.turrets) {
    for (const s of t.seconds.slice(1)) {
      turretSeconds++;
      if (s.lagP99Ms > bounds.max_schedule_lag_ms) lagOver++;
      if (s.loopDelayP99Ms > bounds.max_loop_delay_ms) loopOver++;
    }
  }
  const reasons: string[] = [];
  if (droppedRatio > bounds.max_dropped_ratio) {
    reasons.push(
      `${dropped} of ${started + dropped} iterations dropped (${pct(droppedRatio)}, bound ${pct(bounds.max_dropped_ratio)}): the turrets had no free canon when the plan said to start one`,
    );
  }
  // One bad second is never enough: a GC pause or a noisy neighbour must not flip a short run.
  const allowed = Math.max(1, bounds.max_bad_seconds_ratio * turretSeconds);
  if (turretSeconds > 0 && lagOver > allowed) {
    reasons.push(
      `schedule lag p99 above ${bounds.max_schedule_lag_ms} ms in ${lagOver} of ${turretSeconds} turret-seconds (bound ${pct(bounds.max_bad_seconds_ratio)}): iterations started late`,
    );
  }
  if (turretSeconds > 0 && loopOver > allowed) {
    reasons.push(
      `event-loop delay p99 above ${bounds.max_loop_delay_ms} ms in ${loopOver} of ${turretSeconds} turret-seconds (bound ${pct(bounds.max_bad_seconds_ratio)}): a turret was saturated`,
    );
  }
  return {
    judged: true,
    valid: reasons.length === 0,
    reasons,
    started,
    dropped,
    droppedRatio,
    achievedRate: achievedRate(timeline.seconds),
    turretSeconds,
    lagSecondsOver: lagOver,
    loopSecondsOver: loopOver,
    bounds,
  };
}

function achievedRate(seconds: LoadSecond[]): number | null {
  // The first second holds the start-up and the last one the stop: neither is the steady rate.
  const steady = seconds.length > 2 ? seconds.slice(1, -1) : seconds.slice(1);
  if (!steady.length) return seconds.length ? seconds[0]!.started : null;
  return steady.reduce((a, s) => a + s.started, 0) / steady.length;
}

const pct = (v: number) => `${+(v * 100).toFixed(3)}%`;
