// The turret's two ZeroMQ sockets, connected as the docs say: SUB to the HQ's publisher, subscribed
// to "" and to the turret's uuid, and PUSH to the HQ's result collector. With keys, both are CURVE
// clients of the HQ's key, and every message carries the turret's key and its proof for this uuid.
import * as zmq from 'zeromq';
import type { TurretKeys } from '../common/keys-dir.ts';
import { uuidProof, z85Decode } from '../protocol/curve-key.ts';

export interface TurretSockets {
  sub: zmq.Subscriber;
  push: zmq.Push;
  /** Resolves once the SUB socket has a live connection (so orders sent from now on arrive). */
  subConnected: Promise<void>;
  /** Under CURVE: adds the turret's credentials to a message's JSON frame. */
  stamp?: (json: string) => string;
}

export interface SocketOptions {
  /** How long unsent messages may hold the process at close (ms). */
  lingerMs?: number;
  /** A send waiting longer than this rejects, so the sender can log that the HQ is not reading. */
  sendTimeoutMs?: number;
  /** CURVE keys (common/keys-dir.ts); absent: plaintext, as a legacy turret speaks. */
  curve?: TurretKeys;
}

/**
 * The credentials go first in the JSON object, spliced in as text: the message was encoded once
 * already and every message gets the same two fields (the proof depends only on key and uuid).
 */
export function credentialStamp(keys: TurretKeys, uuid: string): (json: string) => string {
  const proof = uuidProof(z85Decode(keys.turret.secretKey)!, z85Decode(keys.hqPublicKey)!, uuid);
  const fields = `"turret_key":${JSON.stringify(keys.turret.publicKey)},"proof":"${proof}"`;
  return (json) => (json.charCodeAt(0) !== 123 ? json : json.charCodeAt(1) === 125 ? `{${fields}}` : `{${fields},${json.slice(1)}`);
}

export function endpoint(address: string, port: number): string {
  return /^[a-z]+:\/\//.test(address) ? `${address}:${port}` : `tcp://${address}:${port}`;
}

export function connectTurretSockets(hq: { address: string; publisher: number; rc: number }, uuid: string, opts: SocketOptions = {}): TurretSockets {
  const curve = opts.curve
    ? { curveServerKey: opts.curve.hqPublicKey, curvePublicKey: opts.curve.turret.publicKey, curveSecretKey: opts.curve.turret.secretKey }
    : {};
  const sub = new zmq.Subscriber({ linger: 0, ...curve });
  const push = new zmq.Push({ linger: opts.lingerMs ?? 5000, sendTimeout: opts.sendTimeoutMs ?? 2000, sendHighWaterMark: 1000, ...curve });
  const subConnected = new Promise<void>((resolve) => {
    // Subscriptions travel after the ZMTP handshake; "connect" alone can precede it, so give the
    // subscription a moment when no handshake event shows up.
    sub.events.on('handshake', () => resolve());
    sub.events.on('connect', () => setTimeout(resolve, 100));
  });
  sub.subscribe('', uuid);
  sub.connect(endpoint(hq.address, hq.publisher));
  push.connect(endpoint(hq.address, hq.rc));
  return { sub, push, subConnected, stamp: opts.curve ? credentialStamp(opts.curve, uuid) : undefined };
}
