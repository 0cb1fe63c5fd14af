// Decides when a turret counts as saturated: ELU or CPU above a threshold for a sustained time, so
// one busy heartbeat does not raise a warning, and a warning is logged once per episode, not on
// every heartbeat.
import type { Logger } from '../common/log.ts';
import type { TurretHealth } from '../protocol/incoming.ts';

export interface SaturationOptions {
  /** ELU (0..1) or CPU (cores) above which a turret is busy. */
  threshold: number;
  /** How long a turret must stay busy before it counts as saturated. */
  seconds: number;
}

interface Episode {
  busySinceMs: number | null;
  saturated: boolean;
}

export class SaturationTracker {
  private readonly episodes = new Map<string, Episode>();

  constructor(
    private readonly opts: SaturationOptions,
    private readonly log: Logger,
  ) {}

  /** Returns whether the turret is saturated after this health report. */
  update(name: string, uuid: string, health: TurretHealth, nowMs: number): boolean {
    let ep = this.episodes.get(uuid);
    if (!ep) this.episodes.set(uuid, (ep = { busySinceMs: null, saturated: false }));
    const busy = (health.elu ?? 0) > this.opts.threshold || (health.cpu ?? 0) > this.opts.threshold;
    if (!busy) {
      if (ep.saturated) this.log.info('turret no longer saturated', { turret: name, uuid, elu: health.elu, cpu: health.cpu });
      ep.busySinceMs = null;
      ep.saturated = false;
      return false;
    }
    ep.busySinceMs ??= nowMs;
    if (!ep.saturated && nowMs - ep.busySinceMs >= this.opts.seconds * 1000) {
      ep.saturated = true;
      this.log.warn('turret saturated: its results measure the load generator, not the target; add turrets or canons elsewhere', {
        turret: name,
        uuid,
        elu: health.elu,
        cpu: health.cpu,
        for_seconds: Math.round((nowMs - ep.busySinceMs) / 100) / 10,
      });
    }
    return ep.saturated;
  }

  isSaturated(uuid: string): boolean {
    return this.episodes.get(uuid)?.saturated ?? false;
  }

  saturatedCount(): number {
    let n = 0;
    for (const ep of this.episodes.values()) if (ep.saturated) n++;
    return n;
  }
}
