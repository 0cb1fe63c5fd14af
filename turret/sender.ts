// The one writer of the turret's PUSH socket. ZeroMQ allows a single send in flight per socket, and
// statuses must leave after the batches before them (a status's lastSeq names them), so every
// outgoing message goes through this FIFO. When the HQ stops reading (gone, restarting), messages
// stay buffered up to a bound; beyond it `waitForRoom` holds the canons back rather than dropping.
//
// Once the HQ acknowledges (docs/protocol.md, "Acknowledged delivery"), a numbered message is kept
// after it is sent, until an ack covers it: a restarted HQ gets again whatever the old one had not
// stored. Kept messages count against the same bound, so an HQ that stops acknowledging holds the
// canons back too, never grows the turret's memory.
import type { Logger } from '../common/log.ts';

export type OutgoingMessage = string | [string, Buffer];

/** The part of a zeromq Push socket the sender uses (so tests could pass any sink). */
export interface PushLike {
  send(msg: string | Buffer | (string | Buffer)[]): Promise<void>;
  readonly closed: boolean;
}

interface Queued {
  msg: OutgoingMessage;
  results: number;
  /** Numbered messages (result batches, aggregates) are kept until acknowledged. */
  seq?: number;
}

/** Sent messages kept for acknowledgement, at most (about an hour of aggregates alone at 2/s). */
const MAX_UNACKED_MESSAGES = 10_000;

export class Sender {
  private queue: Queued[] = [];
  private head = 0;
  private bufferedResults = 0;
  private sending = false;
  private stalledSince: number | null = null;
  private roomWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private unacked: Queued[] = [];
  private ackWaiters: (() => void)[] = [];
  /** The highest seq an HQ acknowledged; null until one does (then sent messages are kept). */
  ackedSeq: number | null = null;
  sentMessages = 0;

  constructor(
    private readonly socket: PushLike,
    private readonly log: Logger,
    private readonly maxBufferedResults: number,
    /** Under CURVE, adds the turret's credentials to every message's JSON frame. */
    private readonly stamp?: (json: string) => string,
  ) {}

  get queuedMessages(): number {
    return this.queue.length - this.head;
  }

  get queuedResults(): number {
    return this.bufferedResults;
  }

  get unackedMessages(): number {
    return this.unacked.length;
  }

  enqueue(message: OutgoingMessage, results = 0, seq?: number): void {
    const stamp = this.stamp;
    const msg: OutgoingMessage = !stamp ? message : typeof message === 'string' ? stamp(message) : [stamp(message[0]), message[1]];
    this.queue.push({ msg, results, seq });
    this.bufferedResults += results;
    if (!this.sending) void this.pump();
  }

  hasRoom(): boolean {
    return this.bufferedResults < this.maxBufferedResults && this.unacked.length < MAX_UNACKED_MESSAGES;
  }

  /** The HQ stored everything up to `seq`: those kept messages are let go. */
  ack(seq: number): void {
    this.ackedSeq = Math.max(this.ackedSeq ?? 0, seq);
    let n = 0;
    while (n < this.unacked.length && this.unacked[n]!.seq! <= seq) this.bufferedResults -= this.unacked[n++]!.results;
    if (n) this.unacked.splice(0, n);
    this.wakeRoomWaiters();
    if (!this.unacked.length) for (const w of this.ackWaiters.splice(0)) w();
  }

  /**
   * A new HQ (a restart) acknowledged up to `seq`: the kept messages after it are sent again,
   * ahead of anything queued (the HQ takes them in any order). Returns how many.
   */
  resend(seq: number): number {
    this.ack(seq);
    const again = this.unacked;
    this.unacked = [];
    if (!again.length) return 0;
    // A message being sent right now stays first: the pump clears that slot when its send returns.
    const inFlight = this.sending && this.head < this.queue.length ? [this.queue[this.head]!] : [];
    this.queue = [...inFlight, ...again, ...this.queue.slice(this.head + inFlight.length)];
    this.head = 0;
    if (!this.sending) void this.pump();
    return again.length;
  }

  /** Kept messages of a run that is over (an ack names another run): nobody will take them. */
  forget(): number {
    const n = this.unacked.length;
    for (const q of this.unacked) this.bufferedResults -= q.results;
    this.unacked = [];
    this.wakeRoomWaiters();
    for (const w of this.ackWaiters.splice(0)) w();
    return n;
  }

  /** Resolves true once nothing sent waits for an acknowledgement (or none is expected), false at the deadline. */
  waitAcked(timeoutMs: number): Promise<boolean> {
    return this.unacked.length ? waitOrTimeout(this.ackWaiters, timeoutMs) : Promise.resolve(true);
  }

  private wakeRoomWaiters(): void {
    if (this.roomWaiters.length && this.hasRoom()) for (const w of this.roomWaiters.splice(0)) w();
  }

  /** Resolves when the buffer is below its bound again. */
  waitForRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Resolves true when everything queued has been handed to ZeroMQ, false at the deadline. */
  drain(timeoutMs: number): Promise<boolean> {
    return this.queuedMessages === 0 && !this.sending ? Promise.resolve(true) : waitOrTimeout(this.idleWaiters, timeoutMs);
  }

  private async pump(): Promise<void> {
    this.sending = true;
    while (this.head < this.queue.length && !this.socket.closed) {
      const item = this.queue[this.head]!;
      try {
        await this.socket.send(item.msg);
      } catch (err) {
        if (this.socket.closed) break;
        // EAGAIN after sendTimeout: the HQ is not taking messages. Keep the message and retry.
        if (this.stalledSince === null) {
          this.stalledSince = Date.now();
          this.log.warn('HQ is not receiving; buffering results', { buffered: this.bufferedResults, error: (err as Error).message });
        }
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (this.stalledSince !== null) {
        this.log.warn('HQ is receiving again', { stalledMs: Date.now() - this.stalledSince });
        this.stalledSince = null;
      }
      this.sentMessages++;
      this.queue[this.head] = undefined as never;
      this.head++;
      if (item.seq !== undefined && this.ackedSeq !== null && item.seq > this.ackedSeq) this.unacked.push(item);
      else this.bufferedResults -= item.results;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.wakeRoomWaiters();
    }
    this.sending = false;
    if (this.queuedMessages === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** True when one of `waiters` is called (the caller calls them all), false after timeoutMs. */
async function waitOrTimeout(waiters: (() => void)[], timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const woken = new Promise<boolean>((resolve) => waiters.push(() => resolve(true)));
  const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  const done = await Promise.race([woken, deadline]);
  clearTimeout(timer);
  return done;
}
