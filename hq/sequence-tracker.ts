// Per-turret batch sequence numbers: a batch at or below the highest seq seen is a duplicate (a
// retry, a replay after reconnect) and must not be stored twice; a jump counts the batches skipped.
//
// The baseline is the seq of the turret's first status when that status comes before any batch:
// a long-lived turret (a Kubernetes pod serving several runs, or a run resumed by a restarted HQ)
// does not restart its numbering, so "first batch = seq 1" cannot be assumed.
export type SeqVerdict = 'new' | 'duplicate';

export class SequenceTracker {
  private readonly highest = new Map<string, number>();
  missingBatches = 0;
  duplicates = 0;

  /** A status's seq, used only as the starting point for a turret not yet seen. */
  baseline(uuid: string, seq: number | null): void {
    if (seq !== null && !this.highest.has(uuid)) this.highest.set(uuid, seq);
  }

  accept(uuid: string, seq: number): SeqVerdict {
    const top = this.highest.get(uuid) ?? 0;
    if (seq <= top) {
      this.duplicates++;
      return 'duplicate';
    }
    if (seq > top + 1) this.missingBatches += seq - top - 1;
    this.highest.set(uuid, seq);
    return 'new';
  }

  highestSeq(uuid: string): number | null {
    return this.highest.get(uuid) ?? null;
  }

  /**
   * At the end of a run: batches a turret says it sent (its last status's seq) but that never
   * arrived, beyond the gaps already counted.
   */
  countTrailing(uuid: string, announcedSeq: number | null): number {
    if (announcedSeq === null) return 0;
    const top = this.highest.get(uuid) ?? 0;
    if (announcedSeq <= top) return 0;
    const missing = announcedSeq - top;
    this.missingBatches += missing;
    this.highest.set(uuid, announcedSeq);
    return missing;
  }
}
