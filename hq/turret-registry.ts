// Every turret the HQ has heard from, by uuid: its state, when it joined and left, what it sent,
// and when it was last heard. The registry decides states (including `lost`); it does no I/O —
// changes go to `onChange`, which the HQ queues for the store off the socket loop.
import type { Clock } from '../common/clock.ts';
import { TURRET_STATES, type TurretHealth, type TurretState, type TurretStatus } from '../protocol/incoming.ts';

/** States a turret does not come back from by itself (a lost turret may still speak again). */
const GONE: ReadonlySet<TurretState> = new Set(['aborted', 'killed', 'lost']);

export interface TurretEntry {
  uuid: string;
  name: string;
  /** oct's own turret (heartbeats, seq); false for a legacy turret. */
  oct: boolean;
  state: TurretState;
  rawStatus: string;
  canons: number | null;
  rampup: number | null;
  script: string | null;
  canonsRunning: number | null;
  /** The plan the turret last said it follows. */
  planId: number | null;
  health: TurretHealth | null;
  reason: string | null;
  /** Wall-clock ms. */
  joinedAt: number;
  leftAt: number | null;
  lastSeenAt: number;
  /** Monotonic ms of the last status or attributable result. */
  lastSeenMono: number;
  /** Monotonic ms of the last status (results excluded): tells a post-stop status. */
  lastStatusMono: number;
  /** oct turrets: seq announced by the last status. */
  lastStatusSeq: number | null;
  /** oct turrets: how often it promised a status (its heartbeat), ms; null when it did not say. */
  heartbeatMs: number | null;
  results: number;
}

export interface TurretChange {
  entry: TurretEntry;
  previous: TurretState | null;
  /** Wall-clock ms. */
  at: number;
}

export interface RegistryOptions {
  clock: Clock;
  silenceTimeoutMs: number;
  onChange?: (change: TurretChange) => void;
}

export class TurretRegistry {
  private readonly turrets = new Map<string, TurretEntry>();
  private readonly clock: Clock;
  private readonly silenceMs: number;
  private readonly onChange: (change: TurretChange) => void;

  constructor(opts: RegistryOptions) {
    this.clock = opts.clock;
    this.silenceMs = opts.silenceTimeoutMs;
    this.onChange = opts.onChange ?? (() => {});
  }

  get size(): number {
    return this.turrets.size;
  }

  get(uuid: string): TurretEntry | undefined {
    return this.turrets.get(uuid);
  }

  list(): TurretEntry[] {
    return [...this.turrets.values()];
  }

  /** Records a status; returns the entry and whether this uuid is new. */
  onStatus(s: TurretStatus): { entry: TurretEntry; isNew: boolean; previous: TurretState | null } {
    const now = this.clock.now();
    const mono = this.clock.monotonic();
    let entry = this.turrets.get(s.uuid);
    const isNew = !entry;
    if (!entry) {
      entry = {
        uuid: s.uuid,
        name: s.name,
        oct: s.oct,
        state: s.state,
        rawStatus: s.rawStatus,
        canons: s.canons,
        rampup: s.rampup,
        script: s.script,
        canonsRunning: s.canonsRunning,
        planId: s.planId,
        health: s.health,
        reason: s.reason,
        joinedAt: now,
        leftAt: null,
        lastSeenAt: now,
        lastSeenMono: mono,
        lastStatusMono: mono,
        lastStatusSeq: s.lastSeq,
        heartbeatMs: s.heartbeatMs,
        results: 0,
      };
      this.turrets.set(s.uuid, entry);
    }
    const previous = isNew ? null : entry.state;
    entry.name = s.name || entry.name;
    entry.oct = entry.oct || s.oct;
    entry.rawStatus = s.rawStatus;
    entry.canons = s.canons ?? entry.canons;
    entry.rampup = s.rampup ?? entry.rampup;
    entry.script = s.script ?? entry.script;
    entry.canonsRunning = s.canonsRunning;
    entry.planId = s.planId ?? entry.planId;
    entry.health = s.health ?? entry.health;
    entry.reason = s.reason ?? entry.reason;
    entry.lastSeenAt = now;
    entry.lastSeenMono = mono;
    entry.lastStatusMono = mono;
    entry.lastStatusSeq = s.lastSeq ?? entry.lastStatusSeq;
    entry.heartbeatMs = s.heartbeatMs ?? entry.heartbeatMs;
    if (isNew || previous !== s.state) this.setState(entry, s.state, previous, now);
    return { entry, isNew, previous };
  }

  /** Results attributed to a known turret: they count as liveness. */
  onResults(uuid: string, count: number): TurretEntry | undefined {
    const entry = this.turrets.get(uuid);
    if (!entry) return undefined;
    entry.results += count;
    entry.lastSeenAt = this.clock.now();
    entry.lastSeenMono = this.clock.monotonic();
    // Results from a turret marked lost mean it was not lost after all; legacy turrets say nothing
    // while running, so their results are the only sign they are back.
    if (entry.state === 'lost') this.setState(entry, 'running', 'lost', entry.lastSeenAt);
    return entry;
  }

  /**
   * Legacy results carry neither uuid nor turret_name. They are attributed to the legacy turret
   * when exactly one legacy turret is present (not killed or aborted); otherwise they stay
   * unattributed ("unnamed"). Results that do carry a turret_name go to the turret of that name
   * when exactly one has it.
   */
  attribute(turretName: string | null): TurretEntry | null {
    let found: TurretEntry | null = null;
    for (const e of this.turrets.values()) {
      const match = turretName !== null ? e.name === turretName : !e.oct && e.state !== 'killed' && e.state !== 'aborted';
      if (!match) continue;
      if (found) return null;
      found = e;
    }
    return found;
  }

  /**
   * Turrets silent longer than the timeout become `lost`. Only states where the turret should be
   * speaking are checked: gone turrets are already accounted for.
   */
  markSilentLost(): TurretEntry[] {
    const mono = this.clock.monotonic();
    const lost: TurretEntry[] = [];
    for (const e of this.turrets.values()) {
      if (GONE.has(e.state)) continue;
      if (mono - e.lastSeenMono >= this.silenceLimitMs(e)) {
        this.setState(e, 'lost', e.state, this.clock.now());
        lost.push(e);
      }
    }
    return lost;
  }

  /**
   * An oct turret that says how often it beats is lost after 2.5 beats of silence (1 s at the
   * least, never later than the configured timeout); a legacy turret, silent while it runs unless
   * asked, keeps the configured timeout.
   */
  private silenceLimitMs(e: TurretEntry): number {
    if (!e.oct || e.heartbeatMs === null) return this.silenceMs;
    return Math.min(this.silenceMs, Math.max(1000, 2.5 * e.heartbeatMs));
  }

  /** The longest silence among turrets that should be speaking, in ms (0 when none). */
  longestSilenceMs(): number {
    const mono = this.clock.monotonic();
    let longest = 0;
    for (const e of this.turrets.values()) if (!GONE.has(e.state)) longest = Math.max(longest, mono - e.lastSeenMono);
    return longest;
  }

  /** Turrets counted towards min_turrets: heard from and not gone. */
  presentCount(): number {
    let n = 0;
    for (const e of this.turrets.values()) if (!GONE.has(e.state)) n++;
    return n;
  }

  byState(): Record<TurretState, number> {
    const out = Object.fromEntries(TURRET_STATES.map((s) => [s, 0])) as Record<TurretState, number>;
    for (const e of this.turrets.values()) out[e.state]++;
    return out;
  }

  canonsRunning(): number {
    let n = 0;
    for (const e of this.turrets.values()) {
      if (e.state !== 'running') continue;
      // A legacy turret does not report running canons; its configured canons are the best guess.
      n += e.canonsRunning ?? e.canons ?? 0;
    }
    return n;
  }

  static isGone(state: TurretState): boolean {
    return GONE.has(state);
  }

  private setState(entry: TurretEntry, state: TurretState, previous: TurretState | null, at: number): void {
    entry.state = state;
    if (GONE.has(state)) entry.leftAt ??= at;
    else entry.leftAt = null;
    this.onChange({ entry, previous, at });
  }
}
