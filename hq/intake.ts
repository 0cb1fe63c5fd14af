// What the socket loop has taken in, as the run's lifecycle needs to know it: whether results are
// still accepted, when the last ones arrived (to tell that nothing is in flight at the end), and
// what was refused. The ingest writes it, the lifecycle reads it and closes it: neither reaches
// into the other.
import { MALFORMED_KINDS, type MalformedKind } from '../protocol/incoming.ts';

export class Intake {
  private open = true;
  private readonly malformedByKind = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])) as Record<MalformedKind, number>;
  private lateCount = 0;
  private rejectedCount = 0;
  private lastAny = -Infinity;
  private lastLegacy = -Infinity;

  /** False once the run is finished: results after that cannot be stored any more. */
  get accepting(): boolean {
    return this.open;
  }

  /** The run is finished: later results are counted as late, not stored. */
  close(): void {
    this.open = false;
  }

  /** Monotonic ms of the last result batch of any kind. */
  get lastResultMono(): number {
    return this.lastAny;
  }

  /** Monotonic ms of the last result without a uuid: legacy turrets are "quiet" after it. */
  get lastLegacyResultMono(): number {
    return this.lastLegacy;
  }

  /** Results received when no longer accepting (after the run's final drain). */
  get late(): number {
    return this.lateCount;
  }

  /** Well-formed messages refused because their sender may not speak for them (CURVE identity). */
  get rejected(): number {
    return this.rejectedCount;
  }

  get malformed(): Readonly<Record<MalformedKind, number>> {
    return this.malformedByKind;
  }

  malformedTotal(): number {
    let n = 0;
    for (const k of MALFORMED_KINDS) n += this.malformedByKind[k];
    return n;
  }

  /** One line per kind for the log at the end of a run; null when nothing was refused. */
  malformedSummary(): string | null {
    const parts = MALFORMED_KINDS.filter((k) => this.malformedByKind[k] > 0).map((k) => `${k}=${this.malformedByKind[k]}`);
    return parts.length ? parts.join(' ') : null;
  }

  // ---- written by the ingest ----

  resultsArrived(mono: number, legacy: boolean): void {
    this.lastAny = mono;
    if (legacy) this.lastLegacy = mono;
  }

  /** Counts one refused message; returns how many of that kind so far. */
  countMalformed(kind: MalformedKind): number {
    return ++this.malformedByKind[kind];
  }

  countRejected(): number {
    return ++this.rejectedCount;
  }

  countLate(results: number): number {
    this.lateCount += results;
    return this.lateCount;
  }
}
