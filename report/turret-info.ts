// The turrets of a run and their status changes, as the report lists them.
import type { Store } from '../store/types.ts';
import type { TurretInfo, TurretStatusChange } from './stats.ts';

export async function turretInfo(store: Store, runId: number, startedAt: Date | null): Promise<TurretInfo[]> {
  const [turrets, changes] = await Promise.all([store.listTurrets(runId), store.listStatusChanges(runId)]);
  const startSec = startedAt ? startedAt.getTime() / 1000 : null;
  const byTurret = new Map<string, TurretStatusChange[]>();
  for (const c of changes) {
    const at = c.at.getTime() / 1000;
    const list = byTurret.get(c.uuid) ?? [];
    list.push({ status: c.state, rawStatus: c.rawStatus, reason: c.reason, at, elapsed: startSec === null ? null : at - startSec });
    byTurret.set(c.uuid, list);
  }
  return turrets.map((t) => ({
    uuid: t.uuid,
    name: t.name,
    canons: t.canons,
    rampup: t.rampup,
    script: t.script,
    status: t.state,
    firstSeen: t.firstSeen.getTime() / 1000,
    lastSeen: t.lastSeen.getTime() / 1000,
    changes: byTurret.get(t.uuid) ?? [],
  }));
}
