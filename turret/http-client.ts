// The HTTP client scripts get as ctx.http (and `oct/http`): undici's request() over a keep-alive
// Agent. Node 20's global fetch measured 7x slower on this hardware, which would make the turret,
// not the target, the bottleneck. Bodies are always consumed so sockets go back to the pool.
import { Agent, type Dispatcher, request } from 'undici';

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

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  async function doRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse<any>> {
    const method = opts.method ?? (opts.body !== undefined || opts.json !== undefined ? 'POST' : 'GET');
    let headers = opts.headers;
    let body: string | Uint8Array | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers = { 'content-type': 'application/json', ...headers };
    }
    const t0 = performance.now();
    const res = await request(url, {
      method,
      headers,
      body,
      // Without a dispatcher undici uses its own keep-alive global Agent (scripts run outside a turret).
      dispatcher: options.dispatcher,
      signal: opts.timeoutMs !== undefined ? AbortSignal.timeout(opts.timeoutMs) : undefined,
    });
    const raw = opts.responseType === 'buffer' ? Buffer.from(await res.body.arrayBuffer()) : await res.body.text();
    const duration = (performance.now() - t0) / 1000;
    if (opts.timer) options.recordTimer?.(opts.timer, duration);
    const failed = res.statusCode >= 400 && opts.throwOnStatus !== false && !opts.okStatuses?.includes(res.statusCode);
    if (failed) throw new HttpError(method, url, res.statusCode, typeof raw === 'string' ? raw.slice(0, 500) : raw.toString('utf8', 0, 500));
    return { status: res.statusCode, headers: res.headers, body: raw, duration };
  }
  return {
    request: doRequest as HttpClient['request'],
    get: (url, opts) => doRequest(url, { ...opts, method: 'GET' }),
    post: (url, opts) => doRequest(url, { ...opts, method: 'POST' }),
    put: (url, opts) => doRequest(url, { ...opts, method: 'PUT' }),
    delete: (url, opts) => doRequest(url, { ...opts, method: 'DELETE' }),
  };
}
