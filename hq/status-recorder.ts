// Turret state changes and turret rows go to the store from here, in the background: the socket
// loop only appends to a list. Writes run one at a time, in order; a failed write is logged and
// retried on the next flush rather than stalling anything.
import type { Logger } from '../common/log.ts';
import type { StatusChange, Store, TurretRecord } from '../store/types.ts';
import type { TurretChange, TurretEntry } from './turret-registry.ts';

export class StatusRecorder {
  private changes: StatusChange[] = [];
  private readonly dirty = new Map<string, TurretEntry>();
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  failedWrites = 0;

  constructor(
    private readonly store: Store,
    private readonly runId: number,
    private readonly log: Logger,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.intervalMs);
    this.timer.unref();
  }

  change(c: TurretChange): void {
    const e = c.entry;
    this.changes.push({ uuid: e.uuid, name: e.name, state: e.state, rawStatus: e.rawStatus, reason: e.reason, at: new Date(c.at) });
    this.dirty.set(e.uuid, e);
  }

  /**
   * A turret row whose last-seen time moved. Heartbeats would otherwise mean a write per turret
   * every 2 s, so a row is rewritten for liveness at most every `touchEveryMs`.
   */
  touch(e: TurretEntry, nowMono: number, touchEveryMs = 10_000): void {
    const last = this.touched.get(e.uuid);
    if (last !== undefined && nowMono - last < touchEveryMs) return;
    this.touched.set(e.uuid, nowMono);
    this.dirty.set(e.uuid, e);
  }
  private readonly touched = new Map<string, number>();

  /** Writes everything pending; concurrent callers share one pass. */
  flush(): Promise<void> {
    if (this.running) return this.running.then(() => (this.changes.length || this.dirty.size ? this.flush() : undefined));
    if (!this.changes.length && !this.dirty.size) return Promise.resolve();
    this.running = this.writePending().finally(() => (this.running = null));
    return this.running;
  }

  /** Stops recording and hands over what the store has not taken (for a recovery file). */
  takeUnwritten(): { turrets: TurretRecord[]; changes: StatusChange[] } {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const out = { turrets: [...this.dirty.values()].map(toRecord), changes: this.changes };
    this.dirty.clear();
    this.changes = [];
    return out;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  private async writePending(): Promise<void> {
    const changes = this.changes;
    this.changes = [];
    const entries = [...this.dirty.values()];
    this.dirty.clear();
    try {
      for (const e of entries) await this.store.upsertTurret(this.runId, toRecord(e));
      for (let i = 0; i < changes.length; i++) {
        try {
          await this.store.recordStatusChange(this.runId, changes[i]!);
        } catch (err) {
          this.changes.unshift(...changes.slice(i));
          throw err;
        }
      }
    } catch (err) {
      this.failedWrites++;
      this.log.warn('could not record turret status; will retry', { error: err as Error, pending: this.changes.length });
      // Upserts are idempotent: retry them all next time.
      for (const e of entries) this.dirty.set(e.uuid, e);
    }
  }
}

function toRecord(e: TurretEntry): TurretRecord {
  return {
    uuid: e.uuid,
    name: e.name,
    canons: e.canons,
    rampup: e.rampup,
    script: e.script,
    state: e.state,
    firstSeen: new Date(e.joinedAt),
    lastSeen: new Date(e.lastSeenAt),
  };
}
