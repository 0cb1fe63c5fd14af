// A local stand-in for the Kubernetes API server, speaking the documented REST behaviour for the
// few endpoints oct uses: list (with equality label selectors), the Deployment scale subresource
// (GET/PUT), pod logs, PVC delete, and the service proxy. Objects live in memory; every request is
// recorded so tests can assert what was called. Plain HTTP on 127.0.0.1, with a kubeconfig.
// The service proxy answers from a handler, or forwards to a real local HTTP server (an HQ) as the
// real API server does: it authenticates the caller's Authorization header, drops it, and streams
// the request and the answer through.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Obj = { metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: unknown };
type ProxyReply = { status: number; body: string; type?: string };
/** Answers a proxied path; async when it forwards to a real server (kube-play.test.ts's HQ pod). */
type ProxyHandler = (path: string) => ProxyReply | Promise<ProxyReply>;

export interface StandIn {
  url: string;
  kubeconfig: string;
  requests: { method: string; path: string; body?: unknown; auth?: string }[];
  /** kind (plural resource) → objects, e.g. put('deployments', 'load', {...}). */
  put(resource: string, namespace: string, obj: Obj): void;
  get(resource: string, namespace: string, name: string): Obj | undefined;
  logs: Map<string, string>;
  proxy: Map<string, ProxyHandler>;
  /** `svc:port` → a local server's base URL (http://127.0.0.1:N) the service proxy forwards to. */
  forward: Map<string, string>;
  close(): Promise<void>;
}

function matches(labels: Record<string, string> = {}, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return labels[k] === v;
  });
}

function status(res: ServerResponse, code: number, reason: string, message: string) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function json(res: ServerResponse, body: unknown) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  pods: { kind: 'Pod', apiVersion: 'v1' },
  services: { kind: 'Service', apiVersion: 'v1' },
  secrets: { kind: 'Secret', apiVersion: 'v1' },
  persistentvolumeclaims: { kind: 'PersistentVolumeClaim', apiVersion: 'v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
};

export async function startStandIn(): Promise<StandIn> {
  const store = new Map<string, Obj>(); // `${resource}/${ns}/${name}`
  const requests: StandIn['requests'] = [];
  const logs = new Map<string, string>();
  const proxy = new Map<string, ProxyHandler>();
  const forward = new Map<string, string>();

  function forwardTo(base: string, path: string, req: IncomingMessage, res: ServerResponse) {
    if (req.headers.authorization !== 'Bearer stand-in-token') return status(res, 401, 'Unauthorized', 'Unauthorized');
    const headers = { ...req.headers };
    for (const h of ['authorization', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']) delete headers[h];
    const up = request(`${base}${path}`, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', (err) => (res.headersSent ? res.destroy() : status(res, 503, 'ServiceUnavailable', `error trying to reach service: ${err.message}`)));
    res.on('close', () => up.destroy());
    req.pipe(up);
  }

  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const proxied = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/]+)\/proxy(\/.*)?$/.exec(u.pathname);
    const target = proxied && forward.get(decodeURIComponent(proxied[2]!));
    if (proxied && target && store.has(`services/${proxied[1]}/${decodeURIComponent(proxied[2]!).split(':')[0]}`)) {
      requests.push({ method: req.method ?? '?', path: u.pathname + u.search, auth: req.headers.authorization });
      return forwardTo(target, `${proxied[3] ?? '/'}${u.search}`, req, res);
    }
    const body = req.method === 'PUT' || req.method === 'POST' ? await readBody(req) : undefined;
    requests.push({ method: req.method ?? '?', path: u.pathname + u.search, body, auth: req.headers.authorization });
    const m = /^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?(?:\/(.*))?$/.exec(u.pathname);
    if (!m) return status(res, 404, 'NotFound', `the server could not find the requested resource`);
    const [, ns, resource, rawName, sub] = m;
    const name = rawName && decodeURIComponent(rawName);
    const meta = KINDS[resource];
    if (!meta) return status(res, 404, 'NotFound', `the server could not find the requested resource (${resource})`);

    if (!name && req.method === 'GET') {
      const items = [...store.entries()]
        .filter(([k, o]) => k.startsWith(`${resource}/${ns}/`) && matches(o.metadata.labels, u.searchParams.get('labelSelector')))
        .map(([, o]) => o);
      return json(res, { kind: `${meta.kind}List`, apiVersion: meta.apiVersion, metadata: { resourceVersion: '1' }, items });
    }
    if (resource === 'services' && name && sub?.startsWith('proxy')) {
      const [svc, port] = name.split(':');
      const handler = proxy.get(`${svc}:${port}`);
      if (!handler || !store.has(`services/${ns}/${svc}`)) return status(res, 404, 'NotFound', `services "${svc}" not found`);
      const r = await handler(`/${sub.slice('proxy/'.length)}${u.search}`);
      res.writeHead(r.status, { 'content-type': r.type ?? 'application/json' });
      return res.end(r.body);
    }
    const key = `${resource}/${ns}/${name}`;
    const obj = store.get(key);
    if (!obj) return status(res, 404, 'NotFound', `${resource} "${name}" not found`);
    if (resource === 'deployments' && sub === 'scale') {
      const spec = obj.spec as { replicas: number; selector?: { matchLabels?: Record<string, string> } };
      if (req.method === 'GET') {
        return json(res, {
          kind: 'Scale',
          apiVersion: 'autoscaling/v1',
          metadata: { name, namespace: ns, resourceVersion: '7' },
          spec: { replicas: spec.replicas },
          status: { replicas: spec.replicas, selector: '' },
        });
      }
      if (req.method === 'PUT') {
        const scale = body as { kind?: string; spec?: { replicas?: unknown } };
        if (scale?.kind !== 'Scale' || typeof scale.spec?.replicas !== 'number')
          return status(res, 400, 'BadRequest', 'expected a Scale object with spec.replicas');
        spec.replicas = scale.spec.replicas;
        return json(res, { ...scale, status: { replicas: spec.replicas } });
      }
    }
    if (resource === 'pods' && sub === 'log') {
      const text = logs.get(name!) ?? '';
      const tail = Number(u.searchParams.get('tailLines') ?? 0);
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(tail ? `${text.split('\n').filter(Boolean).slice(-tail).join('\n')}\n` : text);
    }
    if (!sub && req.method === 'GET') return json(res, obj);
    if (!sub && req.method === 'DELETE') {
      store.delete(key);
      return json(res, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
    }
    return status(res, 405, 'MethodNotAllowed', `${req.method} not supported here`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'oct-kube-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node accepts a plain-HTTP server only with this flag set (as for `kubectl proxy`).
      clusters: [{ name: 'stand-in', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'tester', user: { token: 'stand-in-token' } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'tester', namespace: 'load' } }],
      'current-context': 'stand-in',
    }),
  );
  return {
    url,
    kubeconfig,
    requests,
    logs,
    proxy,
    forward,
    put: (resource, ns, obj) =>
      store.set(`${resource}/${ns}/${obj.metadata.name}`, { ...KINDS[resource], ...obj, metadata: { namespace: ns, ...obj.metadata } }),
    get: (resource, ns, name) => store.get(`${resource}/${ns}/${name}`),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
