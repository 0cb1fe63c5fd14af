// The turret's two ZeroMQ sockets, connected as the docs say: SUB to the HQ's publisher, subscribed
// to "" and to the turret's uuid, and PUSH to the HQ's result collector.
import * as zmq from 'zeromq';

export interface TurretSockets {
  sub: zmq.Subscriber;
  push: zmq.Push;
  /** Resolves once the SUB socket has a live connection (so orders sent from now on arrive). */
  subConnected: Promise<void>;
}

export interface SocketOptions {
  /** How long unsent messages may hold the process at close (ms). */
  lingerMs?: number;
  /** A send waiting longer than this rejects, so the sender can log that the HQ is not reading. */
  sendTimeoutMs?: number;
}

export function endpoint(address: string, port: number): string {
  return /^[a-z]+:\/\//.test(address) ? `${address}:${port}` : `tcp://${address}:${port}`;
}

export function connectTurretSockets(hq: { address: string; publisher: number; rc: number }, uuid: string, opts: SocketOptions = {}): TurretSockets {
  const sub = new zmq.Subscriber({ linger: 0 });
  const push = new zmq.Push({ linger: opts.lingerMs ?? 5000, sendTimeout: opts.sendTimeoutMs ?? 2000, sendHighWaterMark: 1000 });
  const subConnected = new Promise<void>((resolve) => {
    // Subscriptions travel after the ZMTP handshake; "connect" alone can precede it, so give the
    // subscription a moment when no handshake event shows up.
    sub.events.on('handshake', () => resolve());
    sub.events.on('connect', () => setTimeout(resolve, 100));
  });
  sub.subscribe('', uuid);
  sub.connect(endpoint(hq.address, hq.publisher));
  push.connect(endpoint(hq.address, hq.rc));
  return { sub, push, subConnected };
}
