// Collects canon results into columnar batches and hands each one, numbered, to the sender:
// seq starts at 1 per turret process and grows by one per batch, so the HQ can prove from a
// status's lastSeq that it has every batch.
import { encodeBinaryBatch } from '../protocol/binary-batch.ts';
import { ResultBatchBuilder, type ResultRow } from '../protocol/results.ts';
import type { Sender } from './sender.ts';

export class Batcher {
  private builder = new ResultBatchBuilder();
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  resultsRecorded = 0;

  constructor(
    private readonly sender: Sender,
    private readonly meta: { uuid: string; turret: string },
    private readonly limits: { maxResults: number; maxMs: number },
  ) {}

  get lastSeq(): number {
    return this.seq;
  }

  add(row: ResultRow): void {
    this.builder.add(row);
    this.resultsRecorded++;
    if (this.builder.count >= this.limits.maxResults) this.flush();
    // A timer only while results wait: an idle turret wakes nobody up.
    else if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.limits.maxMs);
  }

  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.builder.count === 0) return;
    const count = this.builder.count;
    const batch = this.builder.build({ turretUuid: this.meta.uuid, turretName: this.meta.turret, seq: ++this.seq });
    this.sender.enqueue(encodeBinaryBatch(batch, { ...this.meta, seq: this.seq }), count);
  }

  close(): void {
    this.flush();
  }
}
