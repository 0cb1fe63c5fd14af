// CURVE on the HQ's two sockets. Both are CURVE servers under the HQ's key, in a ZeroMQ context of
// their own whose ZAP handler (RFC 27, at inproc://zeromq.zap.01, which libzmq asks during every
// handshake) admits only the turret keys the HQ trusts: an unknown key cannot push results nor
// read orders. Each refused handshake is counted (oct_rejected_handshakes_total).
import * as zmq from 'zeromq';
import type { Logger } from '../common/log.ts';
import type { HqKeys } from '../common/keys-dir.ts';
import { z85Encode } from '../protocol/curve-key.ts';
import type { HandshakeFailure, HandshakeSocket, HqMetricsHooks } from './metrics-hooks.ts';
import { TurretIdentity } from './turret-identity.ts';

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
export const ZAP_DOMAIN = 'oct';

export class CurveGuard {
  readonly identity: TurretIdentity;
  private readonly trusted: Set<string>;
  private readonly loop: Promise<void>;
  private readonly logged = new Set<string>();
  denied = 0;

  private constructor(
    readonly context: zmq.Context,
    private readonly zap: zmq.Reply,
    private readonly keys: HqKeys,
    private readonly metrics: HqMetricsHooks,
    private readonly log: Logger,
  ) {
    this.trusted = new Set(keys.trusted);
    this.identity = new TurretIdentity(keys);
    this.loop = this.answer();
  }

  static async start(keys: HqKeys, metrics: HqMetricsHooks, log: Logger): Promise<CurveGuard> {
    const context = new zmq.Context();
    const zap = new zmq.Reply({ context, linger: 0 });
    await zap.bind(ZAP_ENDPOINT);
    return new CurveGuard(context, zap, keys, metrics, log);
  }

  /** Options for a socket the HQ binds: a CURVE server in the guarded context. */
  serverOptions(): { context: zmq.Context; curveServer: true; curveSecretKey: string; zapDomain: string } {
    return { context: this.context, curveServer: true, curveSecretKey: this.keys.hq.secretKey, zapDomain: ZAP_DOMAIN };
  }

  /** Counts the handshakes a bound socket refuses. */
  watch(socket: zmq.Socket, name: HandshakeSocket): void {
    const count = (reason: HandshakeFailure) => (ev: { address: string; error: Error }) => {
      this.metrics.rejectedHandshake?.(name, reason);
      const once = `${name}/${reason}`;
      if (this.logged.has(once)) return;
      this.logged.add(once);
      this.log.warn('connection refused at the CURVE handshake (further ones are only counted in oct_rejected_handshakes_total)', {
        socket: name,
        reason: reason === 'auth' ? 'a turret key the HQ does not trust' : `${ev.error?.message ?? reason} (no CURVE, or not the HQ's key)`,
      });
    };
    socket.events.on('handshake:error:auth', count('auth'));
    socket.events.on('handshake:error:protocol', count('protocol'));
    socket.events.on('handshake:error:other', count('other'));
  }

  async close(): Promise<void> {
    this.zap.close();
    await this.loop;
  }

  // ZAP request frames: version, request id, domain, address, identity, mechanism, credentials…;
  // the reply: version, request id, status code, status text, user id, metadata.
  private async answer(): Promise<void> {
    try {
      for await (const frames of this.zap) {
        const [version, requestId, , address, , mechanism, key] = frames;
        const client = mechanism?.toString() === 'CURVE' && key?.length === 32 ? z85Encode(key) : null;
        const ok = client !== null && this.trusted.has(client);
        if (!ok) this.denied++;
        else this.log.debug('turret key admitted', { key: client, address: address?.toString() ?? '' });
        await this.zap.send([version ?? '1.0', requestId ?? '', ok ? '200' : '400', ok ? 'OK' : 'untrusted key', ok ? client : '', '']);
      }
    } catch (err) {
      if (!this.zap.closed) this.log.error('the ZAP handler stopped: CURVE handshakes will hang', { error: err as Error });
    }
  }
}
