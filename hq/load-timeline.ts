// What planned turrets said about their load, second by second: the HQ's side of the load reports.
// Kept in memory (seconds × turrets is small) and saved with the run as the artifact `load.json`,
// which the report reads for target-against-achieved and the validity verdict.
import { cumulativeAt, type LoadModel, type LoadShape } from '../protocol/load-plan.ts';
import type { LoadReport, LoadSecond, LoadTimelineData, TurretLoad } from '../protocol/load-report.ts';

export class LoadTimeline {
  private readonly turrets = new Map<string, { name: string; seconds: Map<number, LoadSecond>; startedTotal: number; droppedTotal: number }>();
  private readonly replans: LoadTimelineData['replans'] = [];
  /** The newest second any turret reported, merged over turrets: the dashboard's live point. */
  private newest: { second: number; started: number; dropped: number; lagP99Ms: number } | null = null;

  constructor(
    private readonly model: LoadModel,
    private readonly t0: () => number | null,
    private shape: LoadShape | null,
    /** The run's length, seconds: the plan's target ends there. */
    private readonly runTime: number,
  ) {}

  add(name: string, r: LoadReport): void {
    let t = this.turrets.get(r.uuid);
    if (!t) this.turrets.set(r.uuid, (t = { name, seconds: new Map(), startedTotal: 0, droppedTotal: 0 }));
    // A report re-sent for the same second replaces the earlier one: nothing counts twice.
    t.seconds.set(r.second, {
      second: r.second,
      target: r.target,
      started: r.started,
      dropped: r.dropped,
      lagP99Ms: r.lagP99Ms,
      lagMaxMs: r.lagMaxMs,
      loopDelayP99Ms: r.loopDelayP99Ms,
      canons: r.canons,
    });
    if (!this.newest || r.second > this.newest.second) this.newest = { second: r.second, started: r.started, dropped: r.dropped, lagP99Ms: r.lagP99Ms };
    else if (r.second === this.newest.second) {
      this.newest.started += r.started;
      this.newest.dropped += r.dropped;
      this.newest.lagP99Ms = Math.max(this.newest.lagP99Ms, r.lagP99Ms);
    }
    // Cumulative counters only grow; a forged smaller one cannot shrink the totals.
    t.startedTotal = Math.max(t.startedTotal, r.startedTotal);
    t.droppedTotal = Math.max(t.droppedTotal, r.droppedTotal);
  }

  /** The project's target was changed while running: later seconds' targets follow the new shape (earlier ones do not move). */
  reshape(shape: LoadShape): void {
    if (this.shape) this.shape = shape;
  }

  /** The newest reported second, summed over the turrets that reported it so far (schedule lag: their worst). */
  latest(): { second: number; started: number; dropped: number; lagP99Ms: number } | null {
    return this.newest;
  }

  replanned(atSeconds: number, planId: number, turrets: number): void {
    this.replans.push({ at: atSeconds, planId, turrets });
  }

  get droppedTotal(): number {
    let n = 0;
    for (const t of this.turrets.values()) n += t.droppedTotal;
    return n;
  }

  get startedTotal(): number {
    let n = 0;
    for (const t of this.turrets.values()) n += t.startedTotal;
    return n;
  }

  data(): LoadTimelineData {
    const merged = new Map<number, LoadSecond>();
    const turrets: TurretLoad[] = [];
    for (const [uuid, t] of this.turrets) {
      const seconds = [...t.seconds.values()].sort((a, b) => a.second - b.second);
      turrets.push({ uuid, name: t.name, seconds, startedTotal: t.startedTotal, droppedTotal: t.droppedTotal });
      for (const s of seconds) {
        const m = merged.get(s.second);
        if (!m) merged.set(s.second, { ...s });
        else {
          m.target += s.target;
          m.started += s.started;
          m.dropped += s.dropped;
          m.canons += s.canons;
          m.lagP99Ms = Math.max(m.lagP99Ms, s.lagP99Ms);
          m.lagMaxMs = Math.max(m.lagMaxMs, s.lagMaxMs);
          m.loopDelayP99Ms = Math.max(m.loopDelayP99Ms, s.loopDelayP99Ms);
        }
      }
    }
    const seconds = [...merged.values()].sort((a, b) => a.second - b.second);
    // The open model's run target is the plan's, not the sum of what turrets heard: a second in
    // which a turret left and the rest had not yet taken over still shows the gap.
    if (this.shape && this.model === 'open')
      for (const s of seconds)
        s.target = cumulativeAt(this.shape, Math.min(this.runTime, s.second + 1)) - cumulativeAt(this.shape, Math.min(this.runTime, s.second));
    return {
      version: 1,
      model: this.model,
      t0: this.t0() ?? 0,
      shape: this.shape,
      seconds,
      turrets,
      totals: { started: this.startedTotal, dropped: this.droppedTotal },
      replans: this.replans,
    };
  }
}
