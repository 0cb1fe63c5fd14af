// The HQ's small HTTP server: /healthz (the process is up), /readyz (sockets bound and store
// reachable), /status (JSON that `oct status` reads on Kubernetes), and addRoute() so others
// mount /metrics and /report without this module knowing about them.
import { CouldNotBindError } from './bind-error.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/log.ts';
import { type ControlAuth, redactStatus } from './control-auth.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HqHttpSource {
  ready(): Promise<{ ok: boolean; detail: string }>;
  status(): unknown;
}

export interface HttpServerOptions {
  /** 0 = a random free port. */
  port: number;
  host?: string;
  log: Logger;
  /** The HQ (or anything shaped like it); absent, /readyz says not ready and /status is 503. */
  source?: HqHttpSource;
  /** Present: /status shows turret uuids only to requests with the control token. */
  auth?: ControlAuth;
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export class HqHttpServer {
  private readonly routes = new Map<string, RouteHandler>();
  private source: HqHttpSource | undefined;

  private constructor(
    private readonly server: Server,
    private readonly log: Logger,
    source: HqHttpSource | undefined,
    private readonly auth: ControlAuth | undefined,
  ) {
    this.source = source;
    this.routes.set('/healthz', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
    });
    this.routes.set('/readyz', async (_req, res) => {
      const r = this.source ? await this.source.ready() : { ok: false, detail: 'HQ not bound yet' };
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(`${r.detail}\n`);
    });
    this.routes.set('/status', (req, res) => {
      if (!this.source) return sendJson(res, 503, { error: 'HQ not bound yet' });
      const status = this.source.status();
      sendJson(res, 200, !this.auth || this.auth.authorized(req) ? status : redactStatus(status));
    });
  }

  static async listen(opts: HttpServerOptions): Promise<HqHttpServer> {
    const log = opts.log.child('http');
    const server = createServer();
    const http = new HqHttpServer(server, log, opts.source, opts.auth);
    server.on('request', (req, res) => void http.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return http;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The HQ may bind after the server is up (probes answer meanwhile). */
  setSource(source: HqHttpSource): void {
    this.source = source;
  }

  /** Mounts a handler on an exact path (query string ignored); replaces an existing one. */
  addRoute(path: string, handler: RouteHandler): void {
    this.routes.set(path, handler);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = this.routes.get(path);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${path}\n`);
      return;
    }
    try {
      await handler(req, res);
    } catch (err) {
      this.log.warn('HTTP handler failed', { path, error: err as Error });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    }
  }
}

/**
 * The server for one HQ. With `fallbackToRandomPort` (local runs), a busy http_port falls back to
 * a random one rather than failing the test; on Kubernetes the port is fixed, so it fails.
 */
export async function startHttpServer(opts: {
  port: number;
  host?: string;
  log: Logger;
  hq?: HqHttpSource;
  auth?: ControlAuth;
  fallbackToRandomPort?: boolean;
}): Promise<HqHttpServer> {
  try {
    return await HqHttpServer.listen({ port: opts.port, host: opts.host, log: opts.log, source: opts.hq, auth: opts.auth });
  } catch (err) {
    if (!opts.fallbackToRandomPort || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE')
      throw new CouldNotBindError('http_port', `${opts.host ?? '0.0.0.0'}:${opts.port}`, err);
    opts.log.warn('http_port busy; using a random port', { port: opts.port });
    return HqHttpServer.listen({ port: 0, host: opts.host, log: opts.log, source: opts.hq, auth: opts.auth });
  }
}
