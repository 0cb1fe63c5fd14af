// The HTTP client scripts get as ctx.http (and `oct/http`): series per request, cookies, redirects,
// timeouts and errors named by the request's group, over a transport (http-transport.ts): the
// turret's own HTTP/1.1 connections by default, or undici's dispatcher. Node 20's global fetch
// measured 7x slower on this hardware, which would make the turret, not the target, the
// bottleneck. Bodies are always read to the end so connections can be reused.
import { type AddressInfo, type Socket, createServer } from 'node:net';
import type { Dispatcher } from 'undici';
import { groupedPath, requestSeries } from '../protocol/series-names.ts';
import type { CookieSession } from './cookies.ts';
import { Http1Connector } from './http1-client.ts';
import type { Exchange, HttpTransport, TransportRequest } from './http-transport.ts';

export type { AgentTls } from './http-transport.ts';

/**
 * undici loaded on the first request that needs it: importing it costs a process ~120 ms of CPU at
 * start-up, and a turret on its own client never does.
 */
function lazyUndici(dispatcher: Dispatcher | undefined): HttpTransport {
  let transport: HttpTransport | null = null;
  return {
    async send(req: TransportRequest, timeoutMs: number | undefined): Promise<Exchange> {
      transport ??= (await import('./undici-transport.ts')).undiciTransport(dispatcher);
      return transport.send(req, timeoutMs);
    },
  };
}

/** Raw headers as an object: lower-case names, a repeated header's values in an array (as undici's util.parseHeaders). */
function parseHeaders(raw: Buffer[] | string[]): HttpResponse['headers'] {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString().toLowerCase();
    const value = raw[i + 1]!.toString();
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (Array.isArray(had)) had.push(value);
    else out[name] = [had, value];
  }
  return out;
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface HttpRequestOptions {
  method?: HttpMethod;
  headers?: Record<string, string>;
  /** A string or bytes sent as is. */
  body?: string | Uint8Array;
  /** Sent as JSON with content-type application/json (instead of `body`). */
  json?: unknown;
  /**
   * The request's series and error group: `GET <name>`. Default: the URL's path with id-like
   * segments as `:id` and no query (`/orders/123?x=1` → `/orders/:id`).
   */
  name?: string;
  /** Records the request's duration (seconds) as this custom timer of the current iteration. */
  timer?: string;
  /** Statuses that count as success even though >= 400 (e.g. [404]). */
  okStatuses?: number[];
  /** false: never throw on status; the caller checks `status` (a status >= 400 still counts as a failed request). Default true. */
  throwOnStatus?: boolean;
  /** 'buffer' returns the body as a Buffer; default 'text'. */
  responseType?: 'text' | 'buffer';
  /** Abort after this many milliseconds (the whole request, body included); counts as a failed request. */
  timeoutMs?: number;
  /** Redirects to follow (each hop is measured as its own request); 0 returns the 3xx response. */
  maxRedirects?: number;
}

export interface HttpResponse<B = string | Buffer> {
  status: number;
  /** Lower-case names. Parsed when first read (a getter): `{ ...res }` leaves them out, `JSON.stringify(res)` keeps them. */
  headers: Record<string, string | string[] | undefined>;
  body: B;
  /** Seconds from sending the request to the end of the body (of the last hop's, every hop included). */
  duration: number;
  /** The URL of the response: the request's, or the last redirect's. */
  url: string;
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly body: string,
    /** The request's grouped name: the message names it, not the URL, so ids do not split error groups. */
    readonly requestName: string = url,
  ) {
    // The message is what the report groups errors by: keep it stable (no body, no timing, no ids).
    super(`HTTP ${status} from ${method} ${requestName}`);
    this.name = 'HttpError';
  }
}

/** A request that got no response in time, or none at all: the message names the request's group. */
export class HttpRequestError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly requestName: string,
    message: string,
    override readonly cause: unknown,
    readonly timedOut = false,
  ) {
    super(message);
    this.name = timedOut ? 'TimeoutError' : 'HttpRequestError';
  }
}

export interface HttpClient {
  request(url: string, opts?: HttpRequestOptions & { responseType: 'buffer' }): Promise<HttpResponse<Buffer>>;
  request(url: string, opts?: HttpRequestOptions): Promise<HttpResponse<string>>;
  get(url: string, opts?: Omit<HttpRequestOptions, 'method'>): Promise<HttpResponse<string>>;
  post(url: string, opts?: Omit<HttpRequestOptions, 'method'>): Promise<HttpResponse<string>>;
  put(url: string, opts?: Omit<HttpRequestOptions, 'method'>): Promise<HttpResponse<string>>;
  delete(url: string, opts?: Omit<HttpRequestOptions, 'method'>): Promise<HttpResponse<string>>;
}

/** One request (one hop of a redirect chain) as its series counts it. `status` 0: no response. */
export type RequestRecorder = (series: string, seconds: number, failed: boolean, status: number, bytesSent: number, bytesReceived: number) => void;

export interface HttpClientOptions {
  /** How requests travel: a canon's own connections (Http1Connector.session()) in a turret. */
  transport?: HttpTransport;
  /** Without a transport: this undici dispatcher, or undici's global keep-alive Agent. */
  dispatcher?: Dispatcher;
  /** Where `{ timer }` durations go (the canon's current customTimers). */
  recordTimer?: (name: string, seconds: number) => void;
  /** Where every request goes as a sample of its series (the turret's per-second deltas). */
  recordRequest?: RequestRecorder;
  /** The canon's session: cookies sent and stored on every request (RFC 6265, tough-cookie). */
  cookies?: CookieSession;
  /** Default redirect limit (10). */
  maxRedirects?: number;
  /** Default per-request timeout in ms (60 s); a request's timeoutMs overrides it. */
  timeoutMs?: number;
}

export const DEFAULT_MAX_REDIRECTS = 10;
export const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Requests to a throwaway server on 127.0.0.1 through ctx.http's own code, before the test: the
 * request path runs cold (interpreted) for its first few hundred calls, and undici compiles its
 * HTTP parser (WebAssembly, synchronously, ~100 ms here) on its first connection. Measured: without
 * this, an open-model turret's first second at 600/s had its event loop busy for ~300 ms and dropped
 * iterations. The server is a bare socket answering each request head with one canned response:
 * node:http's server parsing them cost as much as the client being warmed (profiled: the warm-up
 * was ~200 ms of a turret's start-up on a 2-core machine, most of it the server's).
 */
export async function warmUpHttp(requests = 300, client: 'oct' | 'undici' = 'oct'): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      // The warm-up's GETs have no body: a request ends at its blank line.
      const text = tail + chunk.toString('latin1');
      let heads = 0;
      for (let i = text.indexOf('\r\n\r\n'); i !== -1; i = text.indexOf('\r\n\r\n', i + 4)) heads++;
      tail = text.slice(-3);
      if (heads) socket.write(WARM_UP_RESPONSE.repeat(heads));
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const dispatcher = client === 'undici' ? new (await import('undici')).Client(url.slice(0, -1), { pipelining: 1 }) : null;
  const connector = dispatcher ? null : new Http1Connector();
  const http = createHttpClient(dispatcher ? { dispatcher } : { transport: connector!.session() });
  try {
    for (let i = 0; i < requests; i++) await http.get(url);
  } finally {
    connector?.close();
    await dispatcher?.close().catch(() => {});
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

const WARM_UP_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok';

/** Origin and path of a URL, cached: scripts usually hit a handful of URLs over and over. */
interface Target {
  origin: string;
  path: string;
  pathname: string;
  /** The default grouped name (id-like segments as :id), and its series per method. */
  grouped: string;
  series: Record<string, string>;
}
const targets = new Map<string, Target>();
const MAX_CACHED_TARGETS = 1000;

function parseTarget(url: string | URL): Target {
  const key = typeof url === 'string' ? url : url.href;
  let t = targets.get(key);
  if (t !== undefined) return t;
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('Invalid URL protocol: the URL must start with `http:` or `https:`.');
  t = { origin: u.origin, path: u.search ? `${u.pathname}${u.search}` : u.pathname, pathname: u.pathname, grouped: groupedPath(u), series: {} };
  if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
  targets.set(key, t);
  return t;
}

const isTimeout = (err: unknown) => err instanceof Error && err.name === 'TimeoutError';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const SET_COOKIE = 'set-cookie';

/** Whether raw header name `k` is `lower` (ASCII, already lower case), without making a string of it. */
function isHeader(k: Buffer | string, lower: string): boolean {
  if (k.length !== lower.length) return false;
  if (typeof k === 'string') return k.toLowerCase() === lower;
  // Upper-case ASCII letters differ from lower-case ones by 0x20 only; header names are tokens.
  for (let i = 0; i < lower.length; i++) if ((k[i]! | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The set-cookie values of raw headers (name, value, name, value …), without parsing the rest. */
function setCookies(raw: Buffer[] | string[]): string[] | null {
  let out: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) if (isHeader(raw[i]!, SET_COOKIE)) (out ??= []).push(raw[i + 1]!.toString());
  return out;
}

function locationOf(raw: Buffer[] | string[]): string | null {
  for (let i = 0; i < raw.length; i += 2) if (isHeader(raw[i]!, 'location')) return raw[i + 1]!.toString();
  return null;
}

/**
 * What a request resolves to. The headers are parsed into an object when first read: most scripts
 * never look at them, and parsing every response's was ~4% of a turret's CPU per GET. `toJSON`
 * keeps them in a logged or serialised response.
 */
class Response<B> implements HttpResponse<B> {
  // Private fields, so a logged or spread response shows the fields of HttpResponse only.
  #raw: Buffer[] | string[];
  #parsed: HttpResponse['headers'] | null = null;
  constructor(
    readonly status: number,
    raw: Buffer[] | string[],
    readonly body: B,
    readonly duration: number,
    readonly url: string,
  ) {
    this.#raw = raw;
  }

  get headers(): HttpResponse['headers'] {
    this.#parsed ??= parseHeaders(this.#raw);
    return this.#parsed;
  }

  toJSON(): HttpResponse<B> {
    return { status: this.status, headers: this.headers, body: this.body, duration: this.duration, url: this.url };
  }
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const transport = options.transport ?? lazyUndici(options.dispatcher);
  const jar = options.cookies;
  const record = options.recordRequest;

  async function doRequest(url: string, opts: HttpRequestOptions = {}, forcedMethod?: HttpMethod): Promise<HttpResponse<any>> {
    let method: string = forcedMethod ?? opts.method ?? (opts.body !== undefined || opts.json !== undefined ? 'POST' : 'GET');
    let headers = opts.headers;
    let body: string | Uint8Array | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers = { 'content-type': 'application/json', ...headers };
    }
    const timeoutMs = opts.timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxRedirects = opts.maxRedirects ?? options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    let name = opts.name;
    let current = String(url);
    let duration = 0;
    // One loop, one async frame per request: each hop is counted in its own series. The first
    // hop's body is sent as given; see below for what a redirect keeps.
    for (let redirects = 0; ; redirects++) {
      const target = parseTarget(current);
      const requestName = name ?? target.grouped;
      const series = name !== undefined ? requestSeries(method, name) : (target.series[method] ??= requestSeries(method, target.grouped));
      const hopHeaders = jar ? jar.withCookies(headers, current, target.origin, target.pathname) : headers;
      // `?? 0`: a script's body of the wrong type (refused by the transport) must not make the sums NaN.
      const sent = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : ((body.byteLength as number | undefined) ?? 0);
      const t0 = performance.now();
      let res: Exchange;
      try {
        res = await transport.send({ origin: target.origin, path: target.path, method, headers: hopHeaders, body }, timeoutMs);
      } catch (err) {
        const seconds = (performance.now() - t0) / 1000;
        record?.(series, seconds, true, 0, sent, 0);
        if (opts.timer) options.recordTimer?.(opts.timer, duration + seconds);
        if (isTimeout(err))
          throw new HttpRequestError(
            method,
            current,
            requestName,
            `timeout: ${method} ${requestName} gave no complete response within ${timeoutMs} ms`,
            err,
            true,
          );
        throw new HttpRequestError(method, current, requestName, `${method} ${requestName}: ${err instanceof Error ? err.message : String(err)}`, err);
      }
      const seconds = (performance.now() - t0) / 1000;
      duration += seconds;
      const status = res.status;
      const failed = status >= 400 && !opts.okStatuses?.includes(status);
      record?.(series, seconds, failed, status, sent, res.length);
      if (jar) {
        const cookies = setCookies(res.rawHeaders!);
        if (cookies) jar.store(cookies, current);
      }
      const location = maxRedirects > 0 && REDIRECTS.has(status) ? locationOf(res.rawHeaders!) : null;
      if (location !== null) {
        if (redirects >= maxRedirects) {
          if (opts.timer) options.recordTimer?.(opts.timer, duration);
          throw new HttpRequestError(method, current, requestName, `too many redirects: ${method} ${requestName} (limit ${maxRedirects})`, null);
        }
        current = new URL(location, current).href;
        // 303, and 301/302 after a POST as every browser does: the next hop is a GET without a body.
        if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
          if (method !== 'HEAD') method = 'GET';
          body = undefined;
          if (headers && 'content-type' in headers) {
            const { 'content-type': _, ...rest } = headers;
            headers = rest;
          }
        }
        // The name was the first hop's; later hops are grouped by their own URL.
        name = undefined;
        continue;
      }
      const raw = opts.responseType === 'buffer' ? res.body(true) : res.text();
      if (opts.timer) options.recordTimer?.(opts.timer, duration);
      if (failed && opts.throwOnStatus !== false)
        throw new HttpError(method, current, status, typeof raw === 'string' ? raw.slice(0, 500) : raw.toString('utf8', 0, 500), requestName);
      return new Response(status, res.rawHeaders!, raw, duration, current);
    }
  }
  return {
    request: doRequest as HttpClient['request'],
    get: (url, opts) => doRequest(url, opts, 'GET'),
    post: (url, opts) => doRequest(url, opts, 'POST'),
    put: (url, opts) => doRequest(url, opts, 'PUT'),
    delete: (url, opts) => doRequest(url, opts, 'DELETE'),
  };
}
