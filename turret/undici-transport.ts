// ctx.http over an undici dispatcher (`http.client: "undici"`, and scripts run outside a turret):
// the callback API undici's own request() is built on. Not undici.request(): it wraps every
// response body in a Readable stream and every request in an AsyncResource, which cost more than
// half of the turret's CPU per request on a small response (measured: ~140 µs vs ~60 µs per GET).
import { Agent, type Dispatcher, getGlobalDispatcher } from 'undici';
import { type AgentTls, BodyCollector, type Exchange, type HttpTransport, type TransportRequest, timeoutError, tlsConnectOptions } from './http-transport.ts';

/** A keep-alive Agent sized for load generation; close it when the turret stops. */
export function createHttpAgent(opts: { connections?: number; tls?: AgentTls } = {}): Agent {
  const tls = opts.tls;
  const connect = tls ? tlsConnectOptions(tls) : undefined;
  return new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: opts.connections ?? null, pipelining: 1, connect });
}

/** Keeps the status, the raw headers and the body chunks; settles once, at the end of the body or on error. */
class CollectingHandler extends BodyCollector implements Dispatcher.DispatchHandler {
  private abortFn: ((err: Error) => void) | null = null;
  private reason: Error | null = null;
  private timer: NodeJS.Timeout | null = null;
  private settled = false;

  constructor(
    private readonly resolve: (h: Exchange) => void,
    private readonly reject: (err: unknown) => void,
    timeoutMs: number | undefined,
  ) {
    super();
    if (timeoutMs !== undefined) this.timer = setTimeout(() => this.expire(), timeoutMs);
  }

  expire(): void {
    if (this.settled) return;
    this.reason = timeoutError();
    // Before onConnect the request waits in the pool: onConnect aborts it. After, undici ends in onError.
    if (this.abortFn) this.abortFn(this.reason);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
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

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    this.disarm();
    this.resolve(this);
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.disarm();
    this.reject(err);
  }
}

/** Requests through `dispatcher`, or undici's global keep-alive Agent. */
export function undiciTransport(dispatcher?: Dispatcher): HttpTransport {
  return {
    send(req: TransportRequest, timeoutMs: number | undefined): Promise<Exchange> {
      const d = dispatcher ?? getGlobalDispatcher();
      return new Promise((resolve, reject) => {
        d.dispatch(
          { origin: req.origin, path: req.path, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body },
          new CollectingHandler(resolve, reject, timeoutMs),
        );
      });
    },
  };
}
