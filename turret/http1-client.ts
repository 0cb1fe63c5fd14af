// The turret's own HTTP/1.1 client: keep-alive connections owned by each canon (a virtual user has
// its connections, as a browser or a k6 VU does), one request at a time per connection, responses
// read by http1-parser.ts. Profiled against undici's Agent on the same core and nginx: undici's
// pool, request objects, header handling and streams cost about as much per GET as the kernel's
// loopback send; a connection that writes one string and feeds one parser took the turret from
// 0.7x to 1.2x autocannon's rate (BENCHMARKS.md, bench/generators.ts).
//
// What it does not do, so that a script needing it opts into undici (`http.client: "undici"`):
// pipelining, HTTP/2, proxies, request bodies as streams, Expect: 100-continue.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { BodyCollector, type Exchange, type HttpTransport, type AgentTls, type TransportRequest, timeoutError, tlsConnectOptions } from './http-transport.ts';
import { ResponseParser, type ResponseSink } from './http1-parser.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// undici's rule: a tab, visible ASCII, latin1. The head is written as latin1, so a character beyond
// it would go out as its low byte: U+010D U+010A as CR LF, a header of the script's own making.
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** How long an idle connection is kept for reuse, unless the server says less (`Keep-Alive: timeout=N`). */
const IDLE_REUSE_MS = 30_000;
/** Reused only this long before the server's own limit: its close may be on the wire already. */
const IDLE_MARGIN_MS = 1_000;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/**
 * Timeouts from this long are not a timer per request: the connector looks at its connections'
 * deadlines every SWEEP_MS. A turret at 40,000 GETs/s would otherwise arm and clear 40,000 timers a
 * second for a timeout (60 s by default) that almost never fires; a quarter of a second late is
 * nothing on such a timeout, too much on a 100-ms one, which keeps its own timer. (A Set of pending
 * requests did the same job at first and cost 15% of the turret's CPU in garbage collection: every
 * request it held was promoted to the old generation. The deadline is a number on the connection.)
 */
export const SWEPT_FROM_MS = 5_000;
const SWEEP_MS = 250;

/** The socket closed or failed under a request; `beforeResponse`: not one byte of the response had come. */
class ConnectionLost extends Error {
  constructor(
    message: string,
    readonly beforeResponse: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'SocketError';
  }
}

/** One keep-alive connection and the request on it, if any. */
class Connection implements ResponseSink {
  readonly parser = new ResponseParser();
  exchange: Http1Exchange | null = null;
  /** clock.monotonic() past which the request on it times out (0: none swept). */
  deadlineAt = 0;
  /** performance.now() until which an idle connection may be reused. */
  reuseUntil = 0;
  idleMs = IDLE_REUSE_MS;
  reused = false;
  closed = false;

  constructor(
    readonly key: string,
    readonly socket: Socket,
    private readonly onGone: (c: Connection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.fail(new ConnectionLost(err.message, !this.parser.started, err)));
    socket.on('close', () => {
      this.closed = true;
      this.fail(new ConnectionLost('the connection closed', !this.parser.started));
      this.onGone(this);
    });
  }

  send(exchange: Http1Exchange, head: string, body: string | Uint8Array | undefined): void {
    this.exchange = exchange;
    this.deadlineAt = exchange.deadlineAt;
    exchange.connection = this;
    this.parser.expect(this, exchange.method === 'HEAD');
    if (body === undefined) this.socket.write(head, 'latin1');
    else {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    }
  }

  onHead(status: number, rawHeaders: string[]): void {
    this.exchange!.onHead(status, rawHeaders);
  }

  onBody(chunk: Buffer): void {
    this.exchange!.onData(chunk);
  }

  onComplete(keepAlive: boolean, idleMs: number | null): void {
    const ex = this.exchange!;
    if (idleMs !== null) this.idleMs = Math.min(IDLE_REUSE_MS, Math.max(0, idleMs - IDLE_MARGIN_MS));
    this.exchange = null;
    ex.connection = null;
    if (!keepAlive) this.destroy();
    ex.complete(keepAlive && !this.closed ? this : null);
  }

  private onData(d: Buffer): void {
    try {
      this.parser.execute(d);
    } catch (err) {
      this.fail(err as Error);
      this.destroy();
    }
  }

  private onEnd(): void {
    if (this.exchange !== null && !this.parser.started) this.fail(new ConnectionLost('the server closed the connection before responding', true));
    else {
      try {
        this.parser.end();
      } catch (err) {
        this.fail(new ConnectionLost((err as Error).message, false, err));
      }
    }
    this.destroy();
  }

  fail(err: Error): void {
    const ex = this.exchange;
    if (ex === null) return;
    this.exchange = null;
    ex.connection = null;
    ex.fail(err, this.reused);
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** One request and its response, collected; settles once. */
class Http1Exchange extends BodyCollector implements Exchange {
  connection: Connection | null = null;
  /** Swept by the connector (long timeouts), or 0. */
  deadlineAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private settled = false;
  private retried = false;

  constructor(
    readonly method: string,
    private readonly session: Http1Session,
    private readonly req: TransportRequest,
    private readonly head: string,
    private readonly resolve: (e: Exchange) => void,
    private readonly reject: (err: unknown) => void,
    timeoutMs: number | undefined,
    now: number,
  ) {
    super();
    if (timeoutMs === undefined) return;
    if (timeoutMs >= SWEPT_FROM_MS) this.deadlineAt = now + timeoutMs;
    else this.timer = setTimeout(() => this.expire(), timeoutMs);
  }

  start(): void {
    this.session.connection(this.req.origin).send(this, this.head, this.req.body);
  }

  onHead(status: number, rawHeaders: string[]): void {
    this.status = status;
    this.rawHeaders = rawHeaders;
  }

  expire(): void {
    if (this.settled) return;
    const c = this.connection;
    this.connection = null;
    if (c) {
      c.exchange = null;
      c.destroy();
    }
    this.settle();
    this.reject(timeoutError());
  }

  complete(reusable: Connection | null): void {
    if (reusable) this.session.release(reusable);
    if (this.settled) return;
    this.settle();
    this.resolve(this);
  }

  fail(err: Error, reusedConnection: boolean): void {
    if (this.settled) return;
    // A kept-alive connection the server had already closed: the request never reached it. Once, on
    // a new connection, for methods that may be repeated (RFC 9110 §9.2.2), as browsers do.
    // Not once the connector is closed: that is the turret stopping, the loss is its own doing.
    if (err instanceof ConnectionLost && err.beforeResponse && reusedConnection && !this.retried && IDEMPOTENT.has(this.method) && !this.session.closed) {
      this.retried = true;
      this.chunks = [];
      this.length = 0;
      this.session.connection(this.req.origin, true).send(this, this.head, this.req.body);
      return;
    }
    this.settle();
    this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

/** The parts of an origin a connection needs, parsed once per origin. */
interface Origin {
  tls: boolean;
  host: string;
  port: number;
  /** The Host header's value. */
  authority: string;
}

/** What a turret's canons share: the TLS settings and every open connection, closed when it stops. */
export class Http1Connector {
  private readonly open = new Set<Connection>();
  private readonly origins = new Map<string, Origin>();
  private readonly tlsOptions: ReturnType<typeof tlsConnectOptions>;

  private sweeper: NodeJS.Timeout | null = null;
  /** Set by close(): no connection is opened after it, not even to retry a request. */
  closed = false;

  /** `clock`: what deadlines are measured on (a test moves it). */
  constructor(
    tls: AgentTls = {},
    readonly clock: { monotonic(): number } = { monotonic: () => performance.now() },
  ) {
    this.tlsOptions = tlsConnectOptions(tls);
  }

  /** A canon's own set of connections. */
  session(): Http1Session {
    return new Http1Session(this);
  }

  origin(origin: string): Origin {
    let o = this.origins.get(origin);
    if (o === undefined) {
      const u = new URL(origin);
      const tls = u.protocol === 'https:';
      o = { tls, host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (tls ? 443 : 80), authority: u.host };
      if (this.origins.size > 1000) this.origins.clear();
      this.origins.set(origin, o);
    }
    return o;
  }

  connect(key: string, onGone: (c: Connection) => void): Connection {
    const o = this.origin(key);
    const socket = o.tls
      ? tlsConnect({ host: o.host, port: o.port, servername: /^[\d.]+$|:/.test(o.host) ? undefined : o.host, ALPNProtocols: ['http/1.1'], ...this.tlsOptions })
      : netConnect({ host: o.host, port: o.port });
    const c = new Connection(key, socket, (gone) => {
      this.open.delete(gone);
      onGone(gone);
    });
    this.open.add(c);
    // Unref'd: a request's deadline does not keep a finished process alive.
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    return c;
  }

  /** Times out the requests whose deadline passed; stops looking once no connection is open. */
  private sweep(): void {
    if (this.open.size === 0) {
      clearInterval(this.sweeper!);
      this.sweeper = null;
      return;
    }
    const now = this.clock.monotonic();
    const idleNow = performance.now();
    for (const c of this.open) {
      if (c.exchange !== null) {
        if (c.deadlineAt !== 0 && c.deadlineAt <= now) c.exchange.expire();
      } else if (c.reuseUntil !== 0 && idleNow > c.reuseUntil) {
        // Idle past its window: no request will take it (connection() would close it), and its
        // canon may never send again (it stopped, or went elsewhere). undici closes them too.
        c.destroy();
      }
    }
  }

  /** Every connection of every canon, closed (requests in flight fail). */
  close(): void {
    this.closed = true;
    for (const c of this.open) c.destroy();
    this.open.clear();
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

/** One canon's connections: idle ones per origin, reused most recent first. */
export class Http1Session implements HttpTransport {
  private readonly idle = new Map<string, Connection[]>();

  constructor(private readonly connector: Http1Connector) {}

  get closed(): boolean {
    return this.connector.closed;
  }

  send(req: TransportRequest, timeoutMs: number | undefined): Promise<Exchange> {
    return new Promise((resolve, reject) => {
      // A canon still in its iteration when the turret stopped: no socket that nobody would close.
      if (this.connector.closed) {
        reject(new Error('the HTTP client is closed'));
        return;
      }
      let head: string;
      try {
        head = requestHead(req, this.connector.origin(req.origin).authority);
      } catch (err) {
        reject(err);
        return;
      }
      new Http1Exchange(req.method, this, req, head, resolve, reject, timeoutMs, this.connector.clock.monotonic()).start();
    });
  }

  /** An idle connection to `origin`, or a new one (`fresh`: always new, for a retry). */
  connection(origin: string, fresh = false): Connection {
    const list = fresh ? undefined : this.idle.get(origin);
    const now = performance.now();
    while (list && list.length > 0) {
      const c = list.pop()!;
      if (c.closed) continue;
      if (now > c.reuseUntil) {
        c.destroy();
        continue;
      }
      c.reused = true;
      return c;
    }
    return this.connector.connect(origin, (gone) => this.forget(gone));
  }

  release(c: Connection): void {
    c.reuseUntil = performance.now() + c.idleMs;
    let list = this.idle.get(c.key);
    if (list === undefined) {
      list = [];
      this.idle.set(c.key, list);
    }
    list.push(c);
  }

  private forget(c: Connection): void {
    const list = this.idle.get(c.key);
    const i = list ? list.indexOf(c) : -1;
    if (i >= 0) list!.splice(i, 1);
  }
}

/** The request line and headers; names and values checked, so no script can split a request in two. */
export function requestHead(req: TransportRequest, authority: string): string {
  // A script's method is any string at run time: "GET / HTTP/1.1\r\n…" would be a request line of its own.
  if (!TOKEN.test(req.method)) throw new TypeError(`invalid request method ${JSON.stringify(req.method.slice(0, 40))}`);
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  let host = false;
  const h = req.headers;
  if (h !== undefined) {
    for (const name in h) {
      const value = h[name];
      if (value === undefined) continue;
      if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
      const v = String(value);
      if (BAD_VALUE.test(v)) throw new TypeError(`invalid value of header ${name}: it contains a control character or one beyond latin1`);
      const lower = name.length === 4 || name.length === 14 || name.length === 17 ? name.toLowerCase() : '';
      // The length is the body's, always: a script's own would desynchronise the connection.
      if (lower === 'content-length' || lower === 'transfer-encoding') continue;
      if (lower === 'host') host = true;
      head += `${name}: ${v}\r\n`;
    }
  }
  if (!host) head = `${head}host: ${authority}\r\n`;
  const body = req.body;
  if (typeof body === 'string') head += `content-length: ${Buffer.byteLength(body)}\r\n`;
  else if (ArrayBuffer.isView(body)) head += `content-length: ${body.byteLength}\r\n`;
  // Checked here, before a connection: socket.write() would throw under a corked head, leaving the
  // connection held by a request already rejected until its timeout.
  else if (body !== undefined) throw new TypeError('the request body must be a string or a Uint8Array');
  else if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') head += 'content-length: 0\r\n';
  return `${head}\r\n`;
}
