// The project's test data split over the run's canons. Each oct turret, when it first reports,
// gets one row per canon it runs; under `unique` (the default) from rows no canon of the run has
// had, so a turret joining mid-run gets fresh ones and no two virtual users share an account;
// `round-robin` goes on through the file and wraps; `random` draws each canon's row at random. A
// turret seen again (a restart with the same uuid, a resent start) gets the rows it had.
import type { DataSet } from '../protocol/data-file.ts';

export interface RowShare {
  rows: unknown[];
  /** Canons left without a row (unique policy, file used up). */
  short: number;
}

export class DataSplitter {
  private next = 0;
  private readonly shares = new Map<string, unknown[]>();

  constructor(
    readonly data: DataSet,
    private readonly random: () => number = Math.random,
  ) {}

  /** Rows handed out so far (unique and round-robin). */
  get used(): number {
    return this.next;
  }

  share(uuid: string, canons: number): RowShare {
    const known = this.shares.get(uuid);
    if (known) return { rows: known, short: Math.max(0, canons - known.length) };
    const { rows, policy } = this.data;
    let out: unknown[];
    if (policy === 'unique') {
      out = rows.slice(this.next, this.next + canons);
      this.next += out.length;
    } else if (policy === 'round-robin') {
      out = Array.from({ length: canons }, (_, k) => rows[(this.next + k) % rows.length]);
      this.next += canons;
    } else {
      out = Array.from({ length: canons }, () => rows[Math.floor(this.random() * rows.length)]);
    }
    this.shares.set(uuid, out);
    return { rows: out, short: canons - out.length };
  }
}
