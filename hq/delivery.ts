// Which of each oct turret's messages are safely stored, for the acknowledgements the HQ sends
// (docs/protocol.md, "Acknowledged delivery"): a message is durable once the store committed what
// it carried — its rows, or the aggregates it was merged into — or at once when it carried nothing
// to store. A turret keeps every message the HQ has not acknowledged and re-sends those to a
// restarted HQ, so a crash between receipt and commit loses nothing.
import type { DeliveredSeq } from '../store/types.ts';
import { SeqSet, storedByTurret } from './seq-set.ts';

/** A message never received this long after later ones were stored will not come: the floor moves past it. */
export const GAP_GIVE_UP_MS = 5_000;
/** Every floor is announced again this often, for turrets that (re)connected after the last change. */
const REANNOUNCE_MS = 2_000;

interface Turret {
  set: SeqSet;
  /** The floor last announced, and when a gap below durable messages was first seen. */
  announced: number;
  gapSince: number | null;
}

export class DeliveryTracker {
  private readonly turrets = new Map<string, Turret>();
  private lastFullMono = -Infinity;

  constructor(
    private readonly now: () => number,
    /** Whether the HQ took a message in (stored or on its way to the store): such a gap is waited for. */
    private readonly received: (uuid: string, seq: number) => boolean,
  ) {}

  /** A turret heard from: its floor starts below its first message of this run (`baseline`: what it says was acknowledged). */
  known(uuid: string, baseline: number): void {
    if (!this.turrets.has(uuid)) this.turrets.set(uuid, { set: new SeqSet(baseline), announced: -1, gapSince: null });
  }

  /** What a previous HQ of this run stored. */
  seed(delivered: DeliveredSeq[]): void {
    for (const [uuid, { lowest, seqs }] of storedByTurret(delivered)) {
      this.known(uuid, lowest - 1);
      for (const s of seqs) this.turrets.get(uuid)!.set.add(s);
    }
  }

  durable(list: readonly DeliveredSeq[]): void {
    for (const d of list) {
      // A message from a turret not yet heard from starts its set (numbering unknown before it).
      this.known(d.uuid, d.seq - 1);
      this.turrets.get(d.uuid)!.set.add(d.seq);
    }
  }

  floor(uuid: string): number | null {
    return this.turrets.get(uuid)?.set.floor ?? null;
  }

  /**
   * The floors to announce now: those that moved since the last announcement, or all of them
   * every couple of seconds; null when there is nothing to say.
   */
  acks(): Record<string, number> | null {
    const mono = this.now();
    const full = mono - this.lastFullMono >= REANNOUNCE_MS;
    if (full) this.lastFullMono = mono;
    const out: Record<string, number> = {};
    let any = false;
    for (const [uuid, t] of this.turrets) {
      this.giveUpLostMessages(uuid, t, mono);
      if (!full && t.set.floor === t.announced) continue;
      t.announced = t.set.floor;
      out[uuid] = t.set.floor;
      any = true;
    }
    return any ? out : null;
  }

  /**
   * The message above the floor is not durable: if the HQ has it, the store is merely behind (wait);
   * if it never arrived while later ones did, and still has not after GAP_GIVE_UP_MS, it was lost
   * in transit or refused: stop waiting for it (the sequence tracker counts it missing).
   */
  private giveUpLostMessages(uuid: string, t: Turret, mono: number): void {
    const next = t.set.floor + 1;
    if (t.set.top === t.set.floor || this.received(uuid, next)) {
      t.gapSince = null;
      return;
    }
    t.gapSince ??= mono;
    if (mono - t.gapSince < GAP_GIVE_UP_MS) return;
    let n = next;
    while (n < t.set.top && !t.set.has(n) && !this.received(uuid, n)) n++;
    t.set.skipTo(n - 1);
    t.gapSince = null;
  }
}
