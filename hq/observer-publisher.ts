// The optional observer stream (config `external_publisher`), like the original HQ's external
// publisher: a PUB socket re-publishing results as they arrive, for live dashboards or custom
// tooling. Observers are best-effort by nature (PUB drops for slow subscribers), so publishing
// never blocks or slows the ingest loop: messages queue (bounded) and a drain loop sends them.
// Message format: docs/metrics.md, "Observer stream".
import { Publisher } from 'zeromq';
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { HqMetricsHooks } from './metrics-hooks.ts';

export const OBSERVER_TOPIC_PREFIX = 'results.';

/** A port binds on every interface (or `host`); a string is a full ZeroMQ endpoint. */
export function observerEndpoint(value: number | string, host = '*'): string {
  return typeof value === 'number' ? `tcp://${host}:${value}` : value;
}

/** One observer message for one received batch: [topic, json]. */
export function observerMessage(batch: ResultBatch, turretName: string | null): [string, string] {
  const results = new Array(batch.count);
  for (let i = 0; i < batch.count; i++) {
    const custom: Record<string, number> = {};
    for (let k = 0; k < batch.timerNames.length; k++) {
      const v = batch.timers[k]![i]!;
      if (!Number.isNaN(v)) custom[batch.timerNames[k]!] = v;
    }
    const e = batch.errorIndex[i]!;
    results[i] = {
      turret_name: turretName,
      elapsed: batch.elapsed[i],
      epoch: batch.epoch[i],
      scriptrun_time: batch.scriptrunTime[i],
      error: e < 0 ? '' : batch.errors[e],
      custom_timers: custom,
    };
  }
  const body = { oct: 1, type: 'results', turret: turretName, uuid: batch.turretUuid, seq: batch.seq, results };
  return [OBSERVER_TOPIC_PREFIX + (turretName ?? 'unnamed'), JSON.stringify(body)];
}

export interface ObserverStats {
  published: number;
  /** Messages dropped because the queue was full (observers too slow or the socket busy). */
  dropped: number;
}

export class ObserverPublisher {
  private readonly queue: Array<[ResultBatch, string | null]> = [];
  private draining = false;
  private closed = false;
  private readonly counts: ObserverStats = { published: 0, dropped: 0 };

  private constructor(
    private readonly sock: Publisher,
    readonly endpoint: string,
    private readonly maxQueue: number,
    private readonly log: Logger,
  ) {}

  static async bind(opts: { endpoint: string; log: Logger; maxQueue?: number }): Promise<ObserverPublisher> {
    // A small high-water mark: an observer that cannot keep up loses messages, the HQ never waits.
    const sock = new Publisher({ sendHighWaterMark: 1000, linger: 0 });
    try {
      await sock.bind(opts.endpoint);
    } catch (err) {
      sock.close();
      throw new Error(`external_publisher: cannot bind ${opts.endpoint}: ${(err as Error).message}`);
    }
    const actual = sock.lastEndpoint ?? opts.endpoint;
    opts.log.info('observer stream bound', { endpoint: actual });
    return new ObserverPublisher(sock, actual, opts.maxQueue ?? 1000, opts.log);
  }

  /** Queues one received batch; returns at once. */
  publish(batch: ResultBatch, turretName: string | null): void {
    if (this.closed || batch.count === 0) return;
    if (this.queue.length >= this.maxQueue) {
      if (this.counts.dropped++ === 0)
        this.log.warn('observer stream falling behind: dropping messages for observers (results are still stored)', { queue: this.maxQueue });
      return;
    }
    this.queue.push([batch, turretName]);
    if (!this.draining) void this.drain();
  }

  stats(): ObserverStats {
    return { ...this.counts };
  }

  /** Sends what is queued, then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.draining) await new Promise((r) => setImmediate(r));
    this.sock.close();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      // The JSON is built here, off the ingest loop's turn, one message at a time.
      while (this.queue.length) {
        const [batch, turret] = this.queue.shift()!;
        await this.sock.send(observerMessage(batch, turret));
        this.counts.published++;
      }
    } catch (err) {
      if (!this.closed) this.log.warn('observer stream send failed', { error: err as Error });
    } finally {
      this.draining = false;
    }
  }
}

/** The HQ's hooks, with every accepted batch also sent to the observer stream. */
export function withObserver(hooks: HqMetricsHooks, observer: ObserverPublisher): HqMetricsHooks {
  return {
    observeBatch(batch, turretName) {
      hooks.observeBatch(batch, turretName);
      observer.publish(batch, turretName);
    },
    malformed: (kind) => hooks.malformed(kind),
    duplicate: () => hooks.duplicate(),
    setRunState: (state, elapsed) => hooks.setRunState(state, elapsed),
    setTurrets: (byState, canons) => hooks.setTurrets(byState, canons),
    setWriter: (stats) => hooks.setWriter(stats),
    turretHealth: (name, uuid, health) => hooks.turretHealth(name, uuid, health),
    dropped: (n) => hooks.dropped(n),
    statusReceived: () => hooks.statusReceived?.(),
    aggregateReceived: () => hooks.aggregateReceived?.(),
    rejected: (reason) => hooks.rejected?.(reason),
    rejectedHandshake: (socket, reason) => hooks.rejectedHandshake?.(socket, reason),
  };
}
