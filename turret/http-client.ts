// The HTTP client scripts get as ctx.http (and `oct/http`): undici's dispatcher API over a keep-alive
// Agent. Node 20's global fetch measured 7x slower on this hardware, which would make the turret,
// not the target, the bottleneck. Bodies are always read to the end so sockets go back to the pool.
//
// Not undici.request(): it wraps every response body in a Readable stream and every request in an
// AsyncResource, which cost more than half of the turret's CPU per request on a small response
// (measured: ~140 µs vs ~60 µs per GET on one core). A plain handler collecting the chunks returns
// the same { status, headers, body } with a fraction of the work.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, Client, type Dispatcher, getGlobalDispatcher, util } from 'undici';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface HttpRequestOptions {
  method?: HttpMethod;
  headers?: Record<string, string>;
  /** A string or bytes sent as is. */
  body?: string | Uint8Array;
  /** Sent as JSON with content-type application/json (instead of `body`). */
  json?: unknown;
  /** Records the request's duration (seconds) as this custom timer of the current iteration. */
  timer?: string;
  /** Statuses that count as success even though >= 400 (e.g. [404]). */
  okStatuses?: number[];
  /** false: never throw on status; the caller checks `status`. Default true. */
  throwOnStatus?: boolean;
  /** 'buffer' returns the body as a Buffer; default 'text'. */
  responseType?: 'text' | 'buffer';
  /** Abort after this many milliseconds (the whole request, body included). */
  timeoutMs?: number;
}

export interface HttpResponse<B = string | Buffer> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: B;
  /** Seconds from sending the request to the end of the body. */
  duration: number;
}

export class HttpError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    // The message is what the report groups errors by: keep it stable (no body, no timing).
    super(`HTTP ${status} from ${method} ${url}`);
    this.name = 'HttpError';
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

export interface HttpClientOptions {
  /** Shared connection pool; a turret passes one Agent to every canon. */
  dispatcher?: Dispatcher;
  /** Where `{ timer }` durations go (the canon's current customTimers). */
  recordTimer?: (name: string, seconds: number) => void;
}

/** A keep-alive Agent sized for load generation; close it when the turret stops. */
export function createHttpAgent(opts: { connections?: number } = {}): Agent {
  return new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: opts.connections ?? null, pipelining: 1 });
}

/**
 * Requests to a throwaway server on 127.0.0.1 through ctx.http's own code, before the test: undici
 * compiles its HTTP parser (WebAssembly, synchronously, ~100 ms here) on the first connection, and
 * the request path runs cold (interpreted) for its first few hundred calls. Measured: without this,
 * an open-model turret's first second at 600/s had its event loop busy for ~300 ms and dropped
 * iterations; the warm-up itself takes about 100 ms before the turret says it is ready.
 */
export async function warmUpHttp(requests = 300): Promise<void> {
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const client = new Client(url.slice(0, -1), { pipelining: 1 });
  const http = createHttpClient({ dispatcher: client });
  try {
    for (let i = 0; i < requests; i++) await http.get(url);
  } finally {
    await client.close().catch(() => {});
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Origin and path of a URL, cached: scripts usually hit a handful of URLs over and over. */
interface Target {
  origin: string;
  path: string;
}
const targets = new Map<string, Target>();
const MAX_CACHED_TARGETS = 1000;

function parseTarget(url: string | URL): Target {
  const key = typeof url === 'string' ? url : url.href;
  let t = targets.get(key);
  if (t !== undefined) return t;
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('Invalid URL protocol: the URL must start with `http:` or `https:`.');
  t = { origin: u.origin, path: u.search ? `${u.pathname}${u.search}` : u.pathname };
  if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
  targets.set(key, t);
  return t;
}

const EMPTY = Buffer.alloc(0);

/** The error an aborted timeoutMs rejects with: the same as AbortSignal.timeout()'s reason. */
function timeoutError(): Error {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
}

/**
 * One request's undici handler (the callback API undici's own request() is built on): keeps the
 * status, the raw headers and the body chunks, and settles once, at the end of the body or on error.
 */
class CollectingHandler implements Dispatcher.DispatchHandler {
  status = 0;
  rawHeaders: Buffer[] | string[] | null = null;
  chunks: Buffer[] = [];
  length = 0;
  private abortFn: ((err: Error) => void) | null = null;
  private reason: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private settled = false;

  constructor(
    private readonly resolve: (h: CollectingHandler) => void,
    private readonly reject: (err: unknown) => void,
    timeoutMs: number | undefined,
  ) {
    if (timeoutMs !== undefined) this.timer = setTimeout(() => this.abort(timeoutError()), timeoutMs);
  }

  private abort(reason: Error): void {
    if (this.settled) return;
    this.reason = reason;
    // Before onConnect the request waits in the pool: onConnect aborts it. After, undici ends in onError.
    if (this.abortFn) this.abortFn(reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.reason) abort(this.reason);
    else this.abortFn = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[] | string[]): boolean {
    // 1xx informational responses come before the real one.
    if (statusCode < 200) return true;
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.length += chunk.length;
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.resolve(this);
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.reject(err);
  }

  /** The body; `copy` for one the caller keeps (a single chunk is a view of a socket read). */
  body(copy = false): Buffer {
    const { chunks } = this;
    if (chunks.length === 0) return copy ? Buffer.alloc(0) : EMPTY;
    if (chunks.length === 1) return copy ? Buffer.from(chunks[0]!) : chunks[0]!;
    return Buffer.concat(chunks, this.length);
  }

  /** UTF-8 text without a leading BOM, as undici's body.text() returns it. */
  text(): string {
    if (this.length === 0) return '';
    const b = this.body();
    const start = b.length > 2 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    return b.toString('utf8', start);
  }
}

function dispatch(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, timeoutMs: number | undefined): Promise<CollectingHandler> {
  return new Promise((resolve, reject) => {
    dispatcher.dispatch(opts, new CollectingHandler(resolve, reject, timeoutMs));
  });
}

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  async function doRequest(url: string, opts: HttpRequestOptions = {}, forcedMethod?: HttpMethod): Promise<HttpResponse<any>> {
    const method = forcedMethod ?? opts.method ?? (opts.body !== undefined || opts.json !== undefined ? 'POST' : 'GET');
    let headers = opts.headers;
    let body: string | Uint8Array | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers = { 'content-type': 'application/json', ...headers };
    }
    const t0 = performance.now();
    const { origin, path } = parseTarget(url);
    // Without a dispatcher undici's global keep-alive Agent is used (scripts run outside a turret).
    const res = await dispatch(options.dispatcher ?? getGlobalDispatcher(), { origin, path, method, headers, body }, opts.timeoutMs);
    const raw = opts.responseType === 'buffer' ? res.body(true) : res.text();
    const duration = (performance.now() - t0) / 1000;
    if (opts.timer) options.recordTimer?.(opts.timer, duration);
    const status = res.status;
    const failed = status >= 400 && opts.throwOnStatus !== false && !opts.okStatuses?.includes(status);
    if (failed) throw new HttpError(method, String(url), status, typeof raw === 'string' ? raw.slice(0, 500) : raw.toString('utf8', 0, 500));
    return { status, headers: util.parseHeaders(res.rawHeaders!) as HttpResponse['headers'], body: raw, duration };
  }
  return {
    request: doRequest as HttpClient['request'],
    get: (url, opts) => doRequest(url, opts, 'GET'),
    post: (url, opts) => doRequest(url, opts, 'POST'),
    put: (url, opts) => doRequest(url, opts, 'PUT'),
    delete: (url, opts) => doRequest(url, opts, 'DELETE'),
  };
}
