// A minimal HQ for turret tests: real PULL + PUB sockets on 127.0.0.1 random ports, parsing what
// arrives with the same protocol code the real HQ uses.
import * as zmq from 'zeromq';
import type { AggregateMessage } from '../../protocol/aggregate.ts';
import { type Incoming, parseIncoming, type TurretStatus } from '../../protocol/incoming.ts';
import { encodeOrder, type Order } from '../../protocol/orders.ts';
import { batchRows, type ResultBatch, type ResultRow } from '../../protocol/results.ts';

export class TestHq {
  readonly statuses: TurretStatus[] = [];
  readonly batches: ResultBatch[] = [];
  readonly invalid: Incoming[] = [];
  readonly aggregates: AggregateMessage[] = [];
  readonly pull = new zmq.Pull({ linger: 0 });
  readonly pub = new zmq.Publisher({ linger: 0 });
  publishPort = 0;
  rcPort = 0;
  private waiters: (() => void)[] = [];
  private loop: Promise<void> | null = null;

  /** Every seq a turret used, result batches and aggregates alike (one stream), ascending. */
  seqsOf(uuid: string): number[] {
    const batches = this.batches.filter((b) => b.turretUuid === uuid).map((b) => b.seq!);
    const aggregates = this.aggregates.filter((a) => a.uuid === uuid).map((a) => a.seq);
    return [...batches, ...aggregates].sort((a, b) => a - b);
  }

  lastSeqOf(uuid: string): number {
    return this.seqsOf(uuid).at(-1) ?? 0;
  }

  /** Transactions a turret counted in its aggregates. */
  aggregatedOf(uuid: string): number {
    let n = 0;
    for (const a of this.aggregates) if (a.uuid === uuid) for (const s of a.seconds) for (const d of s.series) if (d.name === 'All transactions') n += d.hist.n;
    return n;
  }

  static async start(): Promise<TestHq> {
    const hq = new TestHq();
    await hq.pull.bind('tcp://127.0.0.1:*');
    await hq.pub.bind('tcp://127.0.0.1:*');
    hq.rcPort = Number(new URL(hq.pull.lastEndpoint!).port);
    hq.publishPort = Number(new URL(hq.pub.lastEndpoint!).port);
    hq.loop = hq.receive();
    return hq;
  }

  private async receive(): Promise<void> {
    try {
      for await (const frames of this.pull) {
        const msg = parseIncoming(frames, { maxMessageBytes: 64 * 1024 * 1024 });
        if (msg.kind === 'status') this.statuses.push(msg.status);
        else if (msg.kind === 'results') this.batches.push(msg.batch);
        else if (msg.kind === 'aggregate') this.aggregates.push(msg.message);
        else this.invalid.push(msg);
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      // closed
    }
  }

  turretConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      name: 't1',
      canons: 2,
      rampup: 0,
      script: 'script.ts',
      hq_address: '127.0.0.1',
      hq_publisher: this.publishPort,
      hq_rc: this.rcPort,
      heartbeat_ms: 200,
      batch_max_ms: 50,
      ...extra,
    };
  }

  async send(order: Order, channel = ''): Promise<void> {
    const frame = encodeOrder(order);
    await this.pub.send(channel ? `${channel}${frame}` : frame);
  }

  async sendRaw(frame: string): Promise<void> {
    await this.pub.send(frame);
  }

  /** Waits until `check` returns a truthy value; re-checked after every received message. */
  async until<T>(check: () => T | undefined | null | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  statusesOf(uuid: string): TurretStatus[] {
    return this.statuses.filter((s) => s.uuid === uuid);
  }

  lastStatus(uuid?: string): TurretStatus | undefined {
    const list = uuid ? this.statusesOf(uuid) : this.statuses;
    return list.at(-1);
  }

  rows(): ResultRow[] {
    return this.batches.flatMap(batchRows);
  }

  resultCount(): number {
    return this.batches.reduce((n, b) => n + b.count, 0);
  }

  async close(): Promise<void> {
    this.pull.close();
    this.pub.close();
    await this.loop;
  }
}
