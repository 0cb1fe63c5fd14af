// A set of one turret's message numbers, kept as "everything up to floor" plus the few above it:
// messages arrive in order but for a gap (a message lost in transit, or re-sent after an HQ
// restart), so the set above the floor stays small, and is bounded by `maxAbove` (the oldest gap
// is given up on beyond it).
export class SeqSet {
  private readonly above = new Set<number>();
  /** Every seq ≤ floor is in the set. */
  floor: number;
  /** The highest seq in the set (floor when none is above it). */
  top: number;

  constructor(
    floor: number,
    private readonly maxAbove = 10_000,
  ) {
    this.floor = floor;
    this.top = floor;
  }

  has(seq: number): boolean {
    return seq <= this.floor || this.above.has(seq);
  }

  /** Adds seq; returns how many seqs below it were given up on to keep the set bounded. */
  add(seq: number): number {
    if (this.has(seq)) return 0;
    if (seq > this.top) this.top = seq;
    if (seq !== this.floor + 1) {
      this.above.add(seq);
      return this.above.size > this.maxAbove ? this.skipGap() : 0;
    }
    this.floor = seq;
    this.climb();
    return 0;
  }

  /** Seqs below `top` not in the set. */
  get gaps(): number {
    return this.top - this.floor - this.above.size;
  }

  /** Gives up on the lowest gap: the floor moves to just below the lowest seq above it. Returns the seqs skipped. */
  skipGap(): number {
    if (!this.above.size) return 0;
    const lowest = Math.min(...this.above);
    const skipped = lowest - 1 - this.floor;
    this.floor = lowest - 1;
    this.climb();
    return skipped;
  }

  /** Counts everything up to n as in the set (a gap given up on). */
  skipTo(n: number): void {
    if (n <= this.floor) return;
    this.floor = n;
    if (n > this.top) this.top = n;
    for (const seq of this.above) if (seq <= n) this.above.delete(seq);
    this.climb();
  }

  private climb(): void {
    while (this.above.delete(this.floor + 1)) this.floor++;
  }
}

/**
 * What a previous HQ of the run stored, per turret: its seqs and the lowest one (where that
 * turret's numbering is taken to start). A loop, not Math.min(...seqs): a long run stores more
 * messages than a spread can pass as arguments.
 */
export function storedByTurret(delivered: readonly { uuid: string; seq: number }[]): Map<string, { lowest: number; seqs: number[] }> {
  const byTurret = new Map<string, { lowest: number; seqs: number[] }>();
  for (const d of delivered) {
    const t = byTurret.get(d.uuid);
    if (!t) byTurret.set(d.uuid, { lowest: d.seq, seqs: [d.seq] });
    else {
      t.seqs.push(d.seq);
      if (d.seq < t.lowest) t.lowest = d.seq;
    }
  }
  return byTurret;
}
