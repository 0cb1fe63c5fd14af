// `oct dashboard`'s relay: a loopback HTTP server that sends every request (the page, the
// /events stream, control POSTs) to the HQ through the API server's service proxy with the
// kubeconfig's credentials, and streams each answer back as it arrives (Server-Sent Events
// must not wait for the end of a response that never ends).
//
// Two things the API server does shape it: it authenticates with the Authorization header and
// then drops it, so a browser's `Authorization: Bearer <control token>` is moved to X-Oct-Token
// (hq/control-auth.ts reads both); and it rewrites absolute links of proxied HTML to its own proxy
// path, so a path that already carries that prefix is not prefixed twice.
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { hqProxyBase, type Kube } from './kube.ts';

export interface HqRelay {
  port: number;
  /** http://127.0.0.1:PORT/ */
  url: string;
  close(): Promise<void>;
}

/** Request headers worth passing on; cookies and credentials of 127.0.0.1 stay here. */
const PASS_REQUEST = ['accept', 'content-type', 'content-length', 'last-event-id', 'cache-control', 'user-agent', 'x-oct-token'];
/** Response headers not passed back: per-connection ones, and what only the API server's origin should set. */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-authenticate', 'set-cookie', 'strict-transport-security']);

function plain(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

export async function startHqRelay(kube: Kube, hqService: string, opts: { port?: number; onError?: (msg: string) => void } = {}): Promise<HqRelay> {
  const base = hqProxyBase(kube, hqService);
  const basePath = new URL(base).pathname;
  let port = 0;

  const server = http.createServer(async (req, res) => {
    // A page on another site resolving its own name to 127.0.0.1 (DNS rebinding) must not reach
    // the cluster with this user's credentials: only our own origin is served.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return plain(res, 403, `oct dashboard: unexpected Host "${host}"`);
    // Parsing against a root resolves "..": the target cannot climb out of the service proxy.
    const incoming = new URL(req.url ?? '/', 'http://relay');
    let path = incoming.pathname;
    if (path.startsWith(`${basePath}/`)) path = path.slice(basePath.length);
    const target = new URL(`${base}${path}${incoming.search}`);
    if (!target.pathname.startsWith(`${basePath}/`)) return plain(res, 400, 'oct dashboard: bad path');

    const headers: http.OutgoingHttpHeaders = {};
    for (const h of PASS_REQUEST) if (req.headers[h] !== undefined) headers[h] = req.headers[h];
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (bearer) headers['x-oct-token'] = bearer[1];
    const options: https.RequestOptions = { method: req.method, headers };
    try {
      // Per request: exec plugins and token files refresh short-lived credentials here.
      await kube.config.applyToHTTPSOptions(options);
    } catch (err) {
      return plain(res, 502, `oct dashboard: kubeconfig credentials: ${(err as Error).message}`);
    }
    const upstream = (target.protocol === 'https:' ? https : http).request(target, options, (up) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !DROP_RESPONSE.has(k)) out[k] = v;
      // A Basic challenge (the API server's, on expired credentials) would pop up the browser's login box.
      if (up.statusCode === 401 && !/oct/i.test(String(up.headers['www-authenticate'] ?? ''))) delete out['www-authenticate'];
      res.writeHead(up.statusCode ?? 502, out);
      res.flushHeaders();
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      opts.onError?.(`${req.method} ${path}: ${err.message}`);
      if (!res.headersSent) plain(res, 502, `oct dashboard: the API server at ${new URL(base).origin} did not answer: ${err.message}`);
      else res.destroy();
    });
    // The browser left (a closed tab ends its event stream): end the upstream request too.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
