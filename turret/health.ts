// The turret's own health, sent with every heartbeat so the HQ can tell "the target is slow" from
// "the turret is saturated" (a turret at 100% event-loop use measures its own queueing).
import { type EventLoopUtilization, type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { TurretHealth } from '../protocol/incoming.ts';

export class HealthSampler {
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private cpu = process.cpuUsage();
  private at = performance.now();
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.lag.enable();
  }

  /** Health since the previous sample. */
  sample(): TurretHealth {
    const now = performance.now();
    const elu = performance.eventLoopUtilization(this.elu);
    const cpu = process.cpuUsage(this.cpu);
    const wallUs = Math.max(1, (now - this.at) * 1000);
    const health: TurretHealth = {
      elu: round(elu.utilization),
      cpu: round((cpu.user + cpu.system) / wallUs),
      lagMs: this.lag.count > 0 ? round(this.lag.percentile(99) / 1e6) : 0,
    };
    this.elu = performance.eventLoopUtilization();
    this.cpu = process.cpuUsage();
    this.at = now;
    this.lag.reset();
    return health;
  }

  close(): void {
    this.lag.disable();
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
