// Per-turret message sequence numbers: a message whose seq was taken before is a duplicate (a
// retry, a replay after reconnect, a re-send to a restarted HQ) and must not be stored twice; a
// seq not yet seen below the highest fills a gap (a re-sent message that was lost); gaps left at
// the end count as missing batches.
//
// The baseline is the seq of the turret's first status (what it says its HQ acknowledged, else
// its last seq) when that status comes before any message: a long-lived turret (a Kubernetes pod
// serving several runs, or a run resumed by a restarted HQ) does not restart its numbering, so
// "first batch = seq 1" cannot be assumed. A restarted HQ is seeded with what the store holds.
//
// A seq far ahead of the highest accepted one is refused, not believed: believing it would make
// every real batch after it a "duplicate" (one forged seq of 1e9 silently dropped a turret's data).
// A real turret never jumps that far: it numbers every message it sends and never drops one (it
// holds its canons back instead), so only a message lost in transit leaves a gap, and a gap only
// ever counts as missing batches, never as a reason to drop data.
import type { DeliveredSeq } from '../store/types.ts';
import { SeqSet, storedByTurret } from './seq-set.ts';

/** How far past the highest accepted seq of a turret a message may be, in messages (docs/protocol.md). */
export const SEQ_WINDOW = 10_000;

export type SeqVerdict = 'new' | 'duplicate' | 'out_of_window';

export class SequenceTracker {
  private readonly turrets = new Map<string, SeqSet>();
  /** Gaps given up on (more than a window of messages arrived past them). */
  private skipped = 0;
  duplicates = 0;

  /** Batches known to be sent that never arrived: the gaps below each turret's highest seq. */
  get missingBatches(): number {
    let n = this.skipped;
    for (const t of this.turrets.values()) n += t.gaps;
    return n;
  }

  /**
   * Whether a status's seq may be believed: false when it is beyond the window of a turret already
   * heard from (the end of a run waits for that seq, and would count what lies below it as missing).
   */
  plausible(uuid: string, seq: number | null): boolean {
    const t = this.turrets.get(uuid);
    return seq === null || t === undefined || seq - t.top <= SEQ_WINDOW;
  }

  /** A status's seq, used only as the starting point for a turret not yet seen. */
  baseline(uuid: string, seq: number | null): void {
    if (seq !== null && !this.turrets.has(uuid)) this.turrets.set(uuid, new SeqSet(seq, SEQ_WINDOW));
  }

  /** What a previous HQ of this run stored: re-sent copies of those are duplicates. */
  seed(delivered: DeliveredSeq[]): void {
    for (const [uuid, { lowest, seqs }] of storedByTurret(delivered)) {
      // Where the turret's numbering started in this run is unknown: from its first stored message.
      const set = this.turrets.get(uuid) ?? new SeqSet(lowest - 1, SEQ_WINDOW);
      for (const s of seqs) set.add(s);
      this.turrets.set(uuid, set);
    }
  }

  accept(uuid: string, seq: number): SeqVerdict {
    let t = this.turrets.get(uuid);
    if (t?.has(seq) || (!t && seq <= 0)) {
      this.duplicates++;
      return 'duplicate';
    }
    if (t && seq - t.top > SEQ_WINDOW) return 'out_of_window';
    // The first word from a turret far into its numbering (an HQ restarted mid-run): where it
    // started is unknown, so nothing is counted missing; else it started at 1.
    if (!t) this.turrets.set(uuid, (t = new SeqSet(seq > SEQ_WINDOW ? seq - 1 : 0, SEQ_WINDOW)));
    this.skipped += t.add(seq);
    return 'new';
  }

  /** Whether this HQ took that message in (it may not be stored yet). */
  received(uuid: string, seq: number): boolean {
    return this.turrets.get(uuid)?.has(seq) ?? false;
  }

  highestSeq(uuid: string): number | null {
    return this.turrets.get(uuid)?.top ?? null;
  }

  /** Whether every message up to the turret's highest seq has arrived. */
  complete(uuid: string): boolean {
    const t = this.turrets.get(uuid);
    return !t || t.gaps === 0;
  }

  /**
   * At the end of a run: batches a turret says it sent (its last status's seq) but that never
   * arrived, beyond the gaps already counted. A seq beyond the window is not believed here either.
   */
  countTrailing(uuid: string, announcedSeq: number | null): number {
    if (announcedSeq === null) return 0;
    const t = this.turrets.get(uuid) ?? new SeqSet(0, SEQ_WINDOW);
    this.turrets.set(uuid, t);
    if (announcedSeq <= t.top || announcedSeq - t.top > SEQ_WINDOW) return 0;
    const missing = announcedSeq - t.top;
    t.top = announcedSeq;
    return missing;
  }
}
