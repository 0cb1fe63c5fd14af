// The turrets of a run and their status changes, as both reports (exact and from aggregates) list them.
import { statusChangesWithTimes, turretsWithTimes } from '../store/report-queries.ts';
import type { SqlDriver } from '../store/types.ts';
import type { TurretInfo, TurretStatusChange } from './stats.ts';

export async function turretInfo(sql: SqlDriver, runId: number, startedAt: Date | null): Promise<TurretInfo[]> {
  const [turrets, changes] = await Promise.all([turretsWithTimes(sql, runId), statusChangesWithTimes(sql, runId)]);
  const startSec = startedAt ? startedAt.getTime() / 1000 : null;
  const byTurret = new Map<string, TurretStatusChange[]>();
  for (const c of changes) {
    const list = byTurret.get(c.uuid) ?? [];
    list.push({ status: c.status, rawStatus: c.rawStatus, reason: c.reason, at: c.at, elapsed: startSec === null ? null : c.at - startSec });
    byTurret.set(c.uuid, list);
  }
  return turrets.map((t) => ({ ...t, changes: byTurret.get(t.uuid) ?? [] }));
}
