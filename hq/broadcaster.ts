// Orders go out on the PUB socket as broadcasts only (a topic-prefixed frame kills a legacy
// Python turret). zeromq.js allows one send in progress per socket, so sends are chained.
import type { Publisher } from 'zeromq';
import type { Logger } from '../common/log.ts';
import { encodeOrder, type Order } from '../protocol/orders.ts';

export class Broadcaster {
  private chain: Promise<void> = Promise.resolve();
  readonly sent: Order['command'][] = [];

  constructor(
    private readonly pub: Publisher,
    private readonly log: Logger,
  ) {}

  send(...orders: Order[]): Promise<void> {
    for (const order of orders) {
      this.sent.push(order.command);
      this.chain = this.chain.then(
        () => this.pub.send(encodeOrder(order)),
        () => this.pub.send(encodeOrder(order)),
      );
      this.chain.catch((err) => this.log.warn('could not broadcast order', { command: order.command, error: err as Error }));
    }
    return this.chain.catch(() => {});
  }
}
