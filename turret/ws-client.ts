// ctx.ws: WebSocket connections for scripts, on the `ws` package. A connection, and each round
// trip a script marks (send, then wait for the message that answers it), are measured as series
// of their own, like ctx.http's requests: `WS connect /chat`, `WS <name>`.
import WebSocket from 'ws';
import { groupedPath } from '../protocol/series-names.ts';
import type { CookieSession } from './cookies.ts';
import { type AgentTls, tlsConnectOptions } from './http-transport.ts';

export type WsData = string | Buffer;

export interface WsOptions {
  /** The connection's series and error group (default: the URL's grouped path). */
  name?: string;
  headers?: Record<string, string>;
  /** Milliseconds for the handshake (default 10 s). */
  timeoutMs?: number;
}

export interface WsWaitOptions {
  /** Milliseconds to wait for a matching message (default 10 s). */
  timeoutMs?: number;
}

export interface WsRoundTripOptions extends WsWaitOptions {
  /** The round trip's series: `WS <name>`. */
  name: string;
}

export interface WsConnection {
  readonly url: string;
  send(data: WsData | object): void;
  /** The next message (text as a string, binary as a Buffer) for which `match` is true; earlier ones are dropped. */
  waitFor(match?: (msg: WsData) => boolean, opts?: WsWaitOptions): Promise<WsData>;
  /** Sends, then waits for the answer: the time between is one value of the series `WS <name>`. */
  roundTrip(data: WsData | object, match: (msg: WsData) => boolean, opts: WsRoundTripOptions): Promise<WsData>;
  close(code?: number, reason?: string): Promise<void>;
}

export interface WsClient {
  connect(url: string, opts?: WsOptions): Promise<WsConnection>;
}

/** Where connections and round trips are counted (the canon's metrics). */
export type WsRecorder = (series: string, seconds: number, failed: boolean) => void;

const DEFAULT_WS_TIMEOUT_MS = 10_000;

export class WsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WsError';
  }
}

/**
 * `open`: where the connections stay while open, so the turret can close what a script left open
 * when its canons stop (a server would otherwise keep them, one per canon, until the turret exits).
 */
export function createWsClient(opts: { record?: WsRecorder; cookies?: CookieSession; open?: Set<WebSocket>; tls?: AgentTls } = {}): WsClient {
  const record = opts.record;
  // wss:// trusts, presents and verifies what the turret's http.tls says, as ctx.http does.
  const tls = tlsConnectOptions(opts.tls);
  return {
    async connect(url, o = {}) {
      const name = o.name ?? groupedPath(url);
      const timeoutMs = o.timeoutMs ?? DEFAULT_WS_TIMEOUT_MS;
      const headers = { ...o.headers };
      // The session's cookies apply to ws:// as to http:// (RFC 6455 4.1: the handshake is HTTP).
      const cookie = opts.cookies?.header(url.replace(/^ws/, 'http'));
      if (cookie) headers.cookie = cookie;
      const t0 = performance.now();
      const socket = new WebSocket(url, { headers, handshakeTimeout: timeoutMs, ...tls });
      const inbox: WsData[] = [];
      let waiter: { match: (m: WsData) => boolean; resolve: (m: WsData) => void; reject: (e: Error) => void } | null = null;
      let closed: Error | null = null;
      socket.on('message', (data, isBinary) => {
        const msg: WsData = isBinary ? (Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)) : data.toString();
        if (waiter) {
          let ok = false;
          try {
            ok = waiter.match(msg);
          } catch (err) {
            const w = waiter;
            waiter = null;
            return w.reject(err as Error);
          }
          if (ok) {
            const w = waiter;
            waiter = null;
            w.resolve(msg);
          }
          return;
        }
        // Kept for the next waitFor, bounded: a chatty server must not grow a canon without end.
        if (inbox.length < 1000) inbox.push(msg);
      });
      socket.on('close', (code) => {
        closed = new WsError(`WS ${name}: connection closed (${code})`);
        if (waiter) {
          const w = waiter;
          waiter = null;
          w.reject(closed);
        }
      });
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('open', resolve);
          socket.once('error', reject);
        });
      } catch (err) {
        record?.(`WS connect ${name}`, (performance.now() - t0) / 1000, true);
        throw new WsError(`WS connect ${name}: ${(err as Error).message}`);
      }
      record?.(`WS connect ${name}`, (performance.now() - t0) / 1000, false);
      socket.on('error', () => {}); // reported through 'close'
      opts.open?.add(socket);
      socket.once('close', () => opts.open?.delete(socket));

      const waitFor = (match: (m: WsData) => boolean = () => true, w: WsWaitOptions = {}, what = name): Promise<WsData> => {
        while (inbox.length) {
          const m = inbox.shift()!;
          if (match(m)) return Promise.resolve(m);
        }
        if (closed) return Promise.reject(closed);
        if (waiter) return Promise.reject(new WsError(`WS ${what}: already waiting for a message on this connection`));
        const ms = w.timeoutMs ?? DEFAULT_WS_TIMEOUT_MS;
        return new Promise<WsData>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiter = null;
            reject(new WsError(`timeout: WS ${what} got no matching message within ${ms} ms`));
          }, ms);
          waiter = {
            match,
            resolve: (m) => {
              clearTimeout(timer);
              resolve(m);
            },
            reject: (e) => {
              clearTimeout(timer);
              reject(e);
            },
          };
        });
      };
      const send = (data: WsData | object) => {
        if (closed) throw closed;
        socket.send(typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data));
      };
      return {
        url,
        send,
        waitFor: (match, w) => waitFor(match, w),
        async roundTrip(data, match, r) {
          const t = performance.now();
          try {
            send(data);
            const m = await waitFor(match, r, r.name);
            record?.(`WS ${r.name}`, (performance.now() - t) / 1000, false);
            return m;
          } catch (err) {
            record?.(`WS ${r.name}`, (performance.now() - t) / 1000, true);
            throw err;
          }
        },
        close(code, reason) {
          if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
          return new Promise<void>((resolve) => {
            socket.once('close', () => resolve());
            socket.close(code, reason);
          });
        },
      };
    },
  };
}
