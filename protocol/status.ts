// Status messages, turret → HQ, in the documented shape. oct's turret adds "oct": 1, the seq of
// its last result batch (so the HQ can prove nothing was lost), its canons running and its health.
import type { TurretHealth } from './incoming.ts';

export interface StatusFields {
  uuid: string;
  name: string;
  status: 'ready' | 'running' | 'stopping' | 'aborted' | 'killed';
  canons: number;
  rampup: number;
  script: string;
  lastSeq: number;
  /** The highest seq its HQ acknowledged, once one has (a restarted HQ starts counting there). */
  acked?: number | null;
  canonsRunning: number;
  /** The plan the turret follows (0: none), so the HQ can re-send one that was missed. */
  planId?: number;
  health?: TurretHealth;
  reason?: string;
  /** How often the turret sends a status at the least: the HQ calls it lost after 2.5 of them. */
  heartbeatMs?: number;
}

const WIRE_STATUS = { ready: 'ready', running: 'Running', stopping: 'Stopping', aborted: 'Aborted', killed: 'Killed' } as const;

export function encodeStatus(s: StatusFields): string {
  return JSON.stringify({
    turret: s.name,
    status: WIRE_STATUS[s.status],
    uuid: s.uuid,
    rampup: s.rampup,
    script: s.script,
    canons: s.canons,
    oct: 1,
    seq: s.lastSeq,
    ...(s.acked != null ? { acked: s.acked } : {}),
    canons_running: s.canonsRunning,
    ...(s.planId ? { plan_id: s.planId } : {}),
    ...(s.health ? { health: { elu: s.health.elu, cpu: s.health.cpu, lag_ms: s.health.lagMs } } : {}),
    ...(s.reason ? { reason: s.reason } : {}),
    ...(s.heartbeatMs ? { heartbeat_ms: s.heartbeatMs } : {}),
  });
}
