// The thin layer over the Kubernetes API (@kubernetes/client-node 1.x). Everything a command needs
// from a cluster goes through here, found by the chart's labels rather than by computed names, so
// nameOverride/fullnameOverride and renamed turrets still resolve. The HQ's HTTP endpoints are
// reached through the API server's service proxy: no port-forward, no extra port on the laptop.
import * as http from 'node:http';
import * as https from 'node:https';
// Types only at load time: the client is imported when a command connects, so every other
// `oct` command (a turret above all) starts without loading it.
import type * as k8s from '@kubernetes/client-node';
import { DeployError } from './values.ts';

export interface KubeTarget {
  namespace: string;
  release: string;
}

export interface Kube {
  namespace: string;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  config: k8s.KubeConfig;
}

export async function connect(opts: { kubeconfig?: string; context?: string; namespace?: string } = {}): Promise<Kube> {
  const k8s = await import('@kubernetes/client-node');
  const config = new k8s.KubeConfig();
  try {
    if (opts.kubeconfig) config.loadFromFile(opts.kubeconfig);
    else config.loadFromDefault();
  } catch (err) {
    throw new DeployError(`cannot read the kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : ''}: ${(err as Error).message}`);
  }
  if (opts.context) config.setCurrentContext(opts.context);
  if (!config.getCurrentCluster()) throw new DeployError('no Kubernetes cluster configured: set KUBECONFIG or pass --kubeconfig');
  const ctxNs = config.getContextObject(config.getCurrentContext())?.namespace;
  return { namespace: opts.namespace ?? ctxNs ?? 'default', core: config.makeApiClient(k8s.CoreV1Api), apps: config.makeApiClient(k8s.AppsV1Api), config };
}

export const releaseSelector = (release: string, more: Record<string, string> = {}) =>
  Object.entries({ 'app.kubernetes.io/instance': release, 'app.kubernetes.io/part-of': 'oct', ...more })
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** The Kubernetes API's own message (its Status object) when there is one. */
export function apiMessage(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  let body = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* not JSON */
    }
  }
  const msg = (body as { message?: string } | undefined)?.message;
  return msg ? `${msg}${e.code ? ` (HTTP ${e.code})` : ''}` : (e.message ?? String(err));
}

/** The release (or its HQ Service) is not in the namespace: nothing to talk to. */
export class ReleaseNotFoundError extends DeployError {
  override name = 'ReleaseNotFoundError';
}

export async function hqServiceName(kube: Kube, release: string): Promise<string> {
  const list = await kube.core.listNamespacedService({
    namespace: kube.namespace,
    labelSelector: releaseSelector(release, { 'app.kubernetes.io/component': 'hq' }),
  });
  const name = list.items[0]?.metadata?.name;
  if (!name) throw new ReleaseNotFoundError(`no oct release "${release}" in namespace ${kube.namespace} (no HQ Service): check --release and --namespace`);
  return name;
}

/** The API server's service-proxy URL of the HQ's http port, without a trailing slash. */
export function hqProxyBase(kube: Kube, svc: string): string {
  const server = kube.config.getCurrentCluster()!.server.replace(/\/$/, '');
  return `${server}/api/v1/namespaces/${encodeURIComponent(kube.namespace)}/services/${encodeURIComponent(svc)}:http/proxy`;
}

/** GET a path of the HQ's HTTP port through the API server's service proxy; the body as text. */
export async function hqGet(kube: Kube, release: string, path: string): Promise<string> {
  const svc = await hqServiceName(kube, release);
  const url = `${hqProxyBase(kube, svc)}/${path.replace(/^\//, '')}`;
  // A raw request: the generated client would try to deserialize HTML and JSON alike.
  const opts: https.RequestOptions = { method: 'GET', headers: {} };
  await kube.config.applyToHTTPSOptions(opts);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  if (status < 200 || status >= 300)
    throw new DeployError(`HQ ${path} through the API server proxy: HTTP ${status}: ${apiMessage({ body, message: body.slice(0, 300).trim() })}`);
  return body;
}

export type ControlToken = { token: string; secret: string } | { token: null; secret: string; reason: string };

/**
 * The HQ's control token from the Secret its Deployment takes OCT_CONTROL_TOKEN from (so
 * fullnameOverride and a renamed Secret still resolve); without a readable Deployment, the chart's
 * name for it (`<fullname>-control`, beside `<fullname>-hq`). Never throws: a user allowed to
 * read the Service but not Secrets still gets a read-only dashboard.
 */
export async function readControlToken(kube: Kube, release: string, hqService: string): Promise<ControlToken> {
  let secret = `${hqService.replace(/-hq$/, '')}-control`;
  let key = 'token';
  try {
    const list = await kube.apps.listNamespacedDeployment({
      namespace: kube.namespace,
      labelSelector: releaseSelector(release, { 'app.kubernetes.io/component': 'hq' }),
    });
    const env = list.items[0]?.spec?.template?.spec?.containers?.flatMap((c) => c.env ?? []) ?? [];
    const ref = env.find((e) => e.name === 'OCT_CONTROL_TOKEN')?.valueFrom?.secretKeyRef;
    if (ref?.name) {
      secret = ref.name;
      key = ref.key ?? key;
    }
  } catch {
    /* no right to list Deployments: keep the chart's name */
  }
  try {
    const s = await kube.core.readNamespacedSecret({ name: secret, namespace: kube.namespace });
    const b64 = s.data?.[key];
    if (!b64) return { token: null, secret, reason: `the Secret has no "${key}" key` };
    return { token: Buffer.from(b64, 'base64').toString('utf8'), secret };
  } catch (err) {
    return { token: null, secret, reason: apiMessage(err) };
  }
}

export interface PodSummary {
  name: string;
  component: string;
  turret?: string;
  phase: string;
  ready: string;
  restarts: number;
}

export async function listPods(kube: Kube, release: string, more: Record<string, string> = {}): Promise<PodSummary[]> {
  const list = await kube.core.listNamespacedPod({ namespace: kube.namespace, labelSelector: releaseSelector(release, more) });
  return list.items.map((p) => {
    const statuses = p.status?.containerStatuses ?? [];
    return {
      name: p.metadata?.name ?? '?',
      component: p.metadata?.labels?.['app.kubernetes.io/component'] ?? '?',
      turret: p.metadata?.labels?.['oct/turret'],
      phase: p.metadata?.deletionTimestamp ? 'Terminating' : (p.status?.phase ?? 'Unknown'),
      ready: `${statuses.filter((s) => s.ready).length}/${p.spec?.containers.length ?? statuses.length}`,
      restarts: statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0),
    };
  });
}

/** The turret's Deployment, by the config's turret name (label oct/turret) or by its own name. */
export async function turretDeployment(kube: Kube, release: string, turret: string): Promise<string> {
  const list = await kube.apps.listNamespacedDeployment({
    namespace: kube.namespace,
    labelSelector: releaseSelector(release, { 'app.kubernetes.io/component': 'turret' }),
  });
  const match = list.items.find((d) => d.metadata?.labels?.['oct/turret'] === turret || d.metadata?.name === turret);
  if (!match?.metadata?.name) {
    const known = list.items.map((d) => d.metadata?.labels?.['oct/turret']).filter(Boolean);
    throw new DeployError(`no turret "${turret}" in release "${release}"${known.length ? ` (turrets: ${known.join(', ')})` : ''}`);
  }
  return match.metadata.name;
}

/** What `kubectl scale` does: the Deployment's scale subresource. Returns the previous count. */
export async function scaleTurret(kube: Kube, release: string, turret: string, replicas: number): Promise<{ deployment: string; from: number }> {
  const name = await turretDeployment(kube, release, turret);
  const scale = await kube.apps.readNamespacedDeploymentScale({ name, namespace: kube.namespace });
  const from = scale.spec?.replicas ?? 0;
  await kube.apps.replaceNamespacedDeploymentScale({ name, namespace: kube.namespace, body: { ...scale, spec: { replicas } } });
  return { deployment: name, from };
}

export async function podLog(kube: Kube, pod: string, opts: { container?: string; tailLines?: number; previous?: boolean } = {}): Promise<string> {
  return kube.core.readNamespacedPodLog({
    name: pod,
    namespace: kube.namespace,
    container: opts.container,
    tailLines: opts.tailLines,
    previous: opts.previous,
  });
}

export async function releaseClaims(kube: Kube, release: string): Promise<string[]> {
  const list = await kube.core.listNamespacedPersistentVolumeClaim({ namespace: kube.namespace, labelSelector: `app.kubernetes.io/instance=${release}` });
  return list.items.map((c) => c.metadata?.name ?? '?');
}

export async function deleteClaim(kube: Kube, name: string): Promise<void> {
  await kube.core.deleteNamespacedPersistentVolumeClaim({ name, namespace: kube.namespace });
}
