// Per-turret batch sequence numbers: a batch at or below the highest seq seen is a duplicate (a
// retry, a replay after reconnect) and must not be stored twice; a jump counts the batches skipped.
//
// The baseline is the seq of the turret's first status when that status comes before any batch:
// a long-lived turret (a Kubernetes pod serving several runs, or a run resumed by a restarted HQ)
// does not restart its numbering, so "first batch = seq 1" cannot be assumed.
//
// A seq far ahead of the highest accepted one is refused, not believed: believing it would make
// every real batch after it a "duplicate" (one forged seq of 1e9 silently dropped a turret's data).
// A real turret never jumps that far: it numbers every message it sends and never drops one (it
// holds its canons back instead), so only a message lost in transit leaves a gap, and a gap only
// ever counts as missing batches, never as a reason to drop data.

/** How far past the highest accepted seq of a turret a message may be, in messages (docs/protocol.md). */
export const SEQ_WINDOW = 10_000;

export type SeqVerdict = 'new' | 'duplicate' | 'out_of_window';

export class SequenceTracker {
  private readonly highest = new Map<string, number>();
  missingBatches = 0;
  duplicates = 0;

  /**
   * Whether a status's seq may be believed: false when it is beyond the window of a turret already
   * heard from (the end of a run waits for that seq, and would count what lies below it as missing).
   */
  plausible(uuid: string, seq: number | null): boolean {
    const top = this.highest.get(uuid);
    return seq === null || top === undefined || seq - top <= SEQ_WINDOW;
  }

  /** A status's seq, used only as the starting point for a turret not yet seen. */
  baseline(uuid: string, seq: number | null): void {
    if (seq !== null && !this.highest.has(uuid)) this.highest.set(uuid, seq);
  }

  accept(uuid: string, seq: number): SeqVerdict {
    const known = this.highest.get(uuid);
    const top = known ?? 0;
    if (seq <= top) {
      this.duplicates++;
      return 'duplicate';
    }
    if (seq - top > SEQ_WINDOW) {
      if (known !== undefined) return 'out_of_window';
      // The first word from a turret that is far into its numbering (an HQ restarted mid-run):
      // where it started is unknown, so nothing is counted missing.
    } else if (seq > top + 1) {
      this.missingBatches += seq - top - 1;
    }
    this.highest.set(uuid, seq);
    return 'new';
  }

  highestSeq(uuid: string): number | null {
    return this.highest.get(uuid) ?? null;
  }

  /**
   * At the end of a run: batches a turret says it sent (its last status's seq) but that never
   * arrived, beyond the gaps already counted. A seq beyond the window is not believed here either.
   */
  countTrailing(uuid: string, announcedSeq: number | null): number {
    if (announcedSeq === null) return 0;
    const top = this.highest.get(uuid) ?? 0;
    if (announcedSeq <= top || announcedSeq - top > SEQ_WINDOW) return 0;
    const missing = announcedSeq - top;
    this.missingBatches += missing;
    this.highest.set(uuid, announcedSeq);
    return missing;
  }
}
