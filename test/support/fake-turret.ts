// Fake turrets for the HQ's tests: real ZeroMQ PUSH/SUB sockets speaking the wire protocol, either
// as a legacy Python turret (JSON statuses, one JSON result per message) or as oct's turret (oct
// statuses with seq, binary batches). Nothing here is mocked; only the canons are missing.
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { encodeBinaryBatch } from '../../protocol/binary-batch.ts';
import { type ResultRow, ResultBatchBuilder } from '../../protocol/results.ts';
import { encodeStatus, type StatusFields } from '../../protocol/status.ts';
import type { TurretKeys } from '../../common/keys-dir.ts';
import { credentialStamp } from '../../turret/sockets.ts';

/** The frames of one binary batch of `rows`, as oct's turret sends it. */
export function batchFrames(rows: ResultRow[], meta: { uuid: string; turret: string; seq: number }): [string, Buffer] {
  const b = new ResultBatchBuilder();
  for (const r of rows) b.add(r);
  return encodeBinaryBatch(b.build({ turretUuid: meta.uuid, turretName: meta.turret, seq: meta.seq }), meta);
}

export interface FakeTurretOptions {
  name: string;
  oct: boolean;
  uuid?: string;
  canons?: number;
  /** CURVE: connect with these keys and stamp every message as oct's turret does. */
  curve?: TurretKeys;
  /** Stamp messages as if for this uuid (a forger reusing its own proof for another uuid). */
  stampAs?: string;
}

export class FakeTurret {
  readonly uuid: string;
  readonly orders: string[] = [];
  seq = 0;
  private readonly push: zmq.Push;
  private readonly sub: zmq.Subscriber;
  private readonly stamp: (json: string) => string;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  private constructor(readonly opts: FakeTurretOptions) {
    this.uuid = opts.uuid ?? randomUUID();
    const curve = opts.curve
      ? { curveServerKey: opts.curve.hqPublicKey, curvePublicKey: opts.curve.turret.publicKey, curveSecretKey: opts.curve.turret.secretKey }
      : {};
    this.push = new zmq.Push({ linger: 2000, sendHighWaterMark: 100_000, ...curve });
    this.sub = new zmq.Subscriber(curve);
    this.stamp = opts.curve ? credentialStamp(opts.curve, opts.stampAs ?? this.uuid) : (json) => json;
  }

  static async connect(endpoints: { publishPort: number; resultsPort: number }, opts: FakeTurretOptions): Promise<FakeTurret> {
    const t = new FakeTurret(opts);
    t.sub.subscribe('');
    t.sub.connect(`tcp://127.0.0.1:${endpoints.publishPort}`);
    t.push.connect(`tcp://127.0.0.1:${endpoints.resultsPort}`);
    void t.readOrders();
    return t;
  }

  /** Status in the sender's dialect; oct statuses carry the last batch seq. */
  async status(status: StatusFields['status'] | string, extra: Record<string, unknown> = {}): Promise<void> {
    const canons = this.opts.canons ?? 2;
    if (this.opts.oct) {
      const fields: StatusFields = {
        uuid: this.uuid,
        name: this.opts.name,
        status: status as StatusFields['status'],
        canons,
        rampup: 0,
        script: 'v_user.ts',
        lastSeq: this.seq,
        canonsRunning: status === 'running' ? canons : 0,
      };
      await this.push.send(this.stamp(JSON.stringify({ ...JSON.parse(encodeStatus(fields)), ...extra })));
    } else {
      await this.push.send(JSON.stringify({ turret: this.opts.name, status, uuid: this.uuid, rampup: 0, script: 'v_user.py', cannons: canons, ...extra }));
    }
  }

  /** A legacy single result, exactly as the Python turret sends it (no turret_name). */
  async legacyResult(r: Partial<ResultRow> = {}): Promise<void> {
    await this.push.send(
      JSON.stringify({
        elapsed: r.elapsed ?? 1.5,
        epoch: r.epoch ?? Math.floor(Date.now() / 1000),
        scriptrun_time: r.scriptrunTime ?? 0.01,
        error: r.error ?? '',
        custom_timers: r.customTimers ?? {},
      }),
    );
  }

  /** One binary batch of `n` results (seq advances unless given). */
  async batch(n: number, opts: { seq?: number; error?: string; timers?: Record<string, number> } = {}): Promise<number> {
    const rows: ResultRow[] = [];
    for (let i = 0; i < n; i++)
      rows.push({
        elapsed: i * 0.001,
        epoch: Date.now() / 1000,
        scriptrunTime: 0.005 + (i % 10) * 0.001,
        error: opts.error && i % 2 ? opts.error : null,
        customTimers: opts.timers ?? {},
      });
    const seq = opts.seq ?? ++this.seq;
    if (opts.seq === undefined) this.seq = seq;
    const [header, data] = batchFrames(rows, { uuid: this.uuid, turret: this.opts.name, seq });
    await this.push.send([this.stamp(header), data]);
    return seq;
  }

  /** Announces itself, waits for the HQ's start order and says it runs: a turret in the test. */
  async enlist(): Promise<void> {
    await this.status('ready');
    await this.waitForOrder('start');
    await this.status('running');
  }

  /** Frames as given; with `stamped`, frame 1 gets this turret's credentials first. */
  async raw(frames: (string | Buffer)[], stamped = false): Promise<void> {
    const [first, ...rest] = frames;
    await this.push.send(stamped && typeof first === 'string' ? [this.stamp(first), ...rest] : frames);
  }

  commands(): string[] {
    return this.orders.map((o) => (JSON.parse(o.slice(o.indexOf('{'))) as { command: string }).command);
  }

  async waitForOrder(command: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.commands().includes(command)) {
      if (Date.now() > deadline) throw new Error(`${this.opts.name}: no "${command}" order within ${timeoutMs} ms (got: ${this.commands().join(', ')})`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sub.close();
    this.push.close();
  }

  private async readOrders(): Promise<void> {
    try {
      for await (const [frame] of this.sub) {
        this.orders.push(frame!.toString('utf8'));
        for (const w of this.waiters.splice(0)) w();
      }
    } catch {
      // closed
    }
  }
}
