// The one writer of the turret's PUSH socket. ZeroMQ allows a single send in flight per socket, and
// statuses must leave after the batches before them (a status's lastSeq names them), so every
// outgoing message goes through this FIFO. When the HQ stops reading (gone, restarting), messages
// stay buffered up to a bound; beyond it `waitForRoom` holds the canons back rather than dropping.
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
}

export class Sender {
  private queue: Queued[] = [];
  private head = 0;
  private bufferedResults = 0;
  private sending = false;
  private stalledSince: number | null = null;
  private roomWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  sentMessages = 0;

  constructor(
    private readonly socket: PushLike,
    private readonly log: Logger,
    private readonly maxBufferedResults: number,
  ) {}

  get queuedMessages(): number {
    return this.queue.length - this.head;
  }

  get queuedResults(): number {
    return this.bufferedResults;
  }

  enqueue(msg: OutgoingMessage, results = 0): void {
    this.queue.push({ msg, results });
    this.bufferedResults += results;
    if (!this.sending) void this.pump();
  }

  hasRoom(): boolean {
    return this.bufferedResults < this.maxBufferedResults;
  }

  /** Resolves when the buffer is below its bound again. */
  waitForRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Resolves true when everything queued has been handed to ZeroMQ, false at the deadline. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.queuedMessages === 0 && !this.sending) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    return drained;
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
      this.bufferedResults -= item.results;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.roomWaiters.length && this.hasRoom()) for (const w of this.roomWaiters.splice(0)) w();
    }
    this.sending = false;
    if (this.queuedMessages === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
