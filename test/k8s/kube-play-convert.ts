// Turns the chart's rendered objects into pods `podman kube play` (podman 4.3.1, Debian 12) runs as
// a cluster would, converting only what podman cannot play, each conversion with the limitation it
// works around. Anything in the rendered objects this does not know fails here, naming the object
// and field: a chart change must be understood before it is played, never silently dropped.
//
// Pure: it reads the manifests and returns, per pod, the Pod document to play, the network aliases
// its Services give it and the host directories to create; kube-play.test.ts does the I/O.
import { stringify } from 'yaml';
import type { Manifest } from './manifests.ts';

type Obj = Record<string, unknown>;
type Labels = Record<string, string>;

export class UnsupportedManifest extends Error {}

function fail(where: string, what: string): never {
  throw new UnsupportedManifest(`${where}: ${what} — the kube-play converter does not know it; teach test/k8s/kube-play-convert.ts or change the chart`);
}

/** Fails on a key outside `known` (the keys this converter handles for that object). */
function onlyKeys(o: unknown, known: string[], where: string): Obj {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(where, `expected an object, got ${JSON.stringify(o)}`);
  for (const k of Object.keys(o as Obj)) if (!known.includes(k)) fail(`${where}.${k}`, 'unknown field');
  return o as Obj;
}

const clone = <T>(v: T): T => structuredClone(v);

export interface HostFile {
  /** Relative to the directory. */
  path: string;
  content: Buffer;
  mode: number;
}

/** A directory the test creates on the host before playing the pod, bound as a hostPath volume. */
export interface HostDir {
  path: string;
  /** Directory mode: 0o777 for an emptyDir as the kubelet makes it. */
  mode: number;
  gid?: number;
  files: HostFile[];
}

export interface Probe {
  container: string;
  kind: 'startupProbe' | 'livenessProbe' | 'readinessProbe';
  httpGet?: { path: string; port: number };
  exec?: { command: string[] };
}

export interface PlayPod {
  name: string;
  /** The workload it belongs to, e.g. Deployment/demo-oct-hq. */
  owner: string;
  labels: Labels;
  /** The documents for `podman kube play`: the Pod and the ConfigMaps its volumes use. */
  yaml: string;
  /** Service names that select this pod, for `--network NET:alias=NAME`. */
  aliases: string[];
  hostDirs: HostDir[];
  /** Podman named volumes the play creates (claims, ConfigMap volumes): removed by the test. */
  volumes: string[];
  containers: string[];
  initContainers: string[];
  /** terminationGracePeriodSeconds (30 when unset, as on Kubernetes): the test's `podman pod stop -t`. */
  grace: number;
  /** The probes as the kubelet would run them (named ports resolved); podman does not run them here. */
  probes: Probe[];
  restartPolicy: string;
}

export interface Workload {
  kind: 'Deployment' | 'StatefulSet' | 'Job';
  name: string;
  labels: Labels;
  replicas: number;
  /** The i-th pod of the workload (a Deployment's extra replicas are made on demand: scaling). */
  pod(i: number): PlayPod;
}

export interface Plan {
  namespace: string;
  workloads: Workload[];
  services: { name: string; labels: Labels; selector: Labels; ports: { name?: string; port: number; targetPort: number | string }[] }[];
  secrets: Map<string, Map<string, Buffer>>;
  /** Objects not played, each with why (no API server, no CNI enforcing policies). */
  notPlayed: string[];
}

export interface ConvertOptions {
  namespace: string;
  /** A host directory for a pod's volume (emptyDir, Secret, a ConfigMap with nested item paths). */
  hostDir: (pod: string, volume: string) => string;
  /** Suffix for pod names of Deployments and Jobs, as their controllers add one (i: replica). */
  podSuffix: (workload: string, i: number) => string;
}

function decodeData(m: Manifest, where: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const o = m as unknown as { data?: Record<string, string>; stringData?: Record<string, string>; binaryData?: Record<string, string> };
  if (m.kind === 'Secret') {
    for (const [k, v] of Object.entries(o.data ?? {})) out.set(k, Buffer.from(v, 'base64'));
    for (const [k, v] of Object.entries(o.stringData ?? {})) out.set(k, Buffer.from(String(v), 'utf8'));
  } else {
    for (const [k, v] of Object.entries(o.data ?? {})) out.set(k, Buffer.from(String(v), 'utf8'));
    for (const [k, v] of Object.entries(o.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  }
  if (!out.size && !(m.kind === 'ConfigMap' && o.data)) fail(where, 'no data');
  return out;
}

/**
 * `$(VAR)` as the kubelet expands it (k8s.io/kubernetes third_party/forked/golang/expansion):
 * `$(NAME)` of a defined variable becomes its value, an undefined one stays as written, `$$` is a
 * literal `$`. Podman 4.3 expands none of it (5.0 does), so the report container got the text
 * "$(OCT_DATABASE_URL)" as its database URL and restarted ~120 times in 2 minutes.
 */
export function expandVars(s: string, vars: Map<string, string>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '$' || i + 1 >= s.length) {
      out += s[i];
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const end = s.indexOf(')', i + 2);
      if (end < 0) {
        out += s.slice(i);
        break;
      }
      const name = s.slice(i + 2, end);
      out += vars.has(name) ? vars.get(name) : `$(${name})`;
      i = end;
    } else out += '$';
  }
  return out;
}

const POD_SPEC_KEYS = [
  'containers',
  'initContainers',
  'volumes',
  'securityContext',
  'restartPolicy',
  'terminationGracePeriodSeconds',
  'serviceAccountName',
  'automountServiceAccountToken',
  'imagePullSecrets',
  'nodeSelector',
  'tolerations',
  'affinity',
];
const CONTAINER_KEYS = [
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'workingDir',
  'env',
  'envFrom',
  'ports',
  'startupProbe',
  'livenessProbe',
  'readinessProbe',
  'resources',
  'securityContext',
  'volumeMounts',
];

export function convertRelease(manifests: Manifest[], opts: ConvertOptions): Plan {
  const configMaps = new Map<string, { manifest: Manifest; data: Map<string, Buffer> }>();
  const secrets = new Map<string, Map<string, Buffer>>();
  const services: Plan['services'] = [];
  const notPlayed: string[] = [];
  const workloadManifests: Manifest[] = [];

  for (const m of manifests) {
    const where = `${m.kind}/${m.metadata?.name}`;
    if (m.metadata?.namespace && m.metadata.namespace !== opts.namespace) fail(where, `namespace ${m.metadata.namespace}, not ${opts.namespace}`);
    switch (`${m.apiVersion}/${m.kind}`) {
      case 'v1/ConfigMap':
        onlyKeys(m, ['apiVersion', 'kind', 'metadata', 'data', 'binaryData'], where);
        configMaps.set(m.metadata.name, { manifest: m, data: decodeData(m, where) });
        break;
      case 'v1/Secret': {
        const s = onlyKeys(m, ['apiVersion', 'kind', 'metadata', 'type', 'data', 'stringData'], where);
        if (s.type !== undefined && s.type !== 'Opaque') fail(`${where}.type`, `type ${String(s.type)}`);
        secrets.set(m.metadata.name, decodeData(m, where));
        break;
      }
      case 'v1/Service': {
        const spec = onlyKeys((m as Obj).spec, ['type', 'selector', 'ports', 'clusterIP', 'publishNotReadyAddresses'], `${where}.spec`);
        if ((spec.type ?? 'ClusterIP') !== 'ClusterIP') fail(`${where}.spec.type`, `type ${String(spec.type)} (only ClusterIP becomes network aliases)`);
        if (!spec.selector) fail(`${where}.spec.selector`, 'a Service without a selector');
        const ports = (spec.ports as Obj[]).map((p, i) => {
          onlyKeys(p, ['name', 'port', 'targetPort', 'protocol'], `${where}.spec.ports[${i}]`);
          if ((p.protocol ?? 'TCP') !== 'TCP') fail(`${where}.spec.ports[${i}].protocol`, String(p.protocol));
          return { name: p.name as string | undefined, port: p.port as number, targetPort: (p.targetPort ?? p.port) as number | string };
        });
        services.push({ name: m.metadata.name, labels: (m.metadata.labels ?? {}) as Labels, selector: spec.selector as Labels, ports });
        break;
      }
      case 'apps/v1/Deployment':
      case 'apps/v1/StatefulSet':
      case 'batch/v1/Job':
        workloadManifests.push(m);
        break;
      // Nothing in a pod calls the Kubernetes API (automountServiceAccountToken: false); there is
      // no API server here to hold an account.
      case 'v1/ServiceAccount':
        notPlayed.push(`${where}: no API server`);
        break;
      // A podman network lets every pod reach every other: the policies are not enforced here.
      case 'networking.k8s.io/v1/NetworkPolicy':
        notPlayed.push(`${where}: not enforced (no CNI plugin; podman networks are open)`);
        break;
      default:
        fail(where, `apiVersion/kind ${m.apiVersion}/${m.kind}`);
    }
  }

  const selects = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);

  /** One pod from a workload's template. */
  function makePod(owner: string, name: string, template: Obj, claims: Map<string, string>, extraAliases: string[]): PlayPod {
    const tmeta = onlyKeys(template.metadata ?? {}, ['labels', 'annotations'], `${owner}.spec.template.metadata`);
    const labels = (tmeta.labels ?? {}) as Labels;
    const spec = clone(onlyKeys(template.spec, POD_SPEC_KEYS, `${owner}.spec.template.spec`));
    const hostDirs: HostDir[] = [];
    const volumes: string[] = [];
    const usedConfigMaps = new Set<string>();
    const fsGroup = (spec.securityContext as { fsGroup?: number } | undefined)?.fsGroup;

    // One host: scheduling constraints and pull credentials have nothing to act on.
    for (const k of ['nodeSelector', 'tolerations', 'affinity', 'imagePullSecrets']) delete spec[k];
    // No API server: the account is never used (the pods do not mount its token).
    if (spec.automountServiceAccountToken !== false) fail(`${owner}.spec.template.spec.automountServiceAccountToken`, 'a pod that mounts an API token');
    delete spec.serviceAccountName;
    delete spec.automountServiceAccountToken;

    const vols = (spec.volumes ?? []) as Obj[];
    spec.volumes = vols.map((v, i) => {
      const vw = `${owner}.spec.template.spec.volumes[${i}]`;
      onlyKeys(v, ['name', 'emptyDir', 'configMap', 'secret', 'persistentVolumeClaim'], vw);
      const vname = v.name as string;
      if (v.emptyDir) {
        onlyKeys(v.emptyDir, [], `${vw}.emptyDir`);
        // Podman 4.3 makes an emptyDir a named volume shared by every pod that names it and kept
        // between runs (a shared /tmp across HQ, turrets and database): each pod gets its own
        // empty directory instead, world-writable as the kubelet makes it.
        const path = opts.hostDir(name, vname);
        hostDirs.push({ path, mode: 0o777, files: [] });
        return { name: vname, hostPath: { path, type: 'Directory' } };
      }
      if (v.configMap) {
        const c = onlyKeys(v.configMap, ['name', 'items', 'defaultMode', 'optional'], `${vw}.configMap`);
        const cm = configMaps.get(c.name as string);
        if (!cm) fail(`${vw}.configMap.name`, `ConfigMap ${String(c.name)} is not in the rendered objects`);
        const items =
          (c.items as { key: string; path: string; mode?: number }[] | undefined) ??
          [...cm.data.keys()].map((key) => ({ key, path: key, mode: undefined as number | undefined }));
        for (const it of items) if (!cm.data.has(it.key)) fail(`${vw}.configMap.items`, `key ${it.key} is not in ConfigMap ${String(c.name)}`);
        // Podman 4.3 refuses an item path with a directory in it ("cannot create file
        // test_scripts/v_user.ts at volume mountpoint"): such a volume becomes a host directory
        // laid out as the kubelet lays it out. Flat ones stay podman's own ConfigMap volumes.
        if (items.some((it) => it.path.includes('/'))) {
          const path = opts.hostDir(name, vname);
          const mode = (c.defaultMode as number | undefined) ?? 0o644;
          hostDirs.push({ path, mode: 0o755, files: items.map((it) => ({ path: it.path, content: cm.data.get(it.key)!, mode: it.mode ?? mode })) });
          return { name: vname, hostPath: { path, type: 'Directory' } };
        }
        usedConfigMaps.add(c.name as string);
        volumes.push(c.name as string);
        return v;
      }
      if (v.secret) {
        const s = onlyKeys(v.secret, ['secretName', 'items', 'defaultMode', 'optional'], `${vw}.secret`);
        const data = secrets.get(s.secretName as string);
        if (!data) fail(`${vw}.secret.secretName`, `Secret ${String(s.secretName)} is not in the rendered objects`);
        const items =
          (s.items as { key: string; path: string; mode?: number }[] | undefined) ??
          [...data.keys()].map((key) => ({ key, path: key, mode: undefined as number | undefined }));
        for (const it of items) if (!data.has(it.key)) fail(`${vw}.secret.items`, `key ${it.key} is not in Secret ${String(s.secretName)}`);
        // Podman 4.3 plays no Secret objects (its kube play knows secrets only as podman secrets,
        // and reads them as JSON): the Secret's files go in a host directory, owned by the pod's
        // fsGroup and group-readable, as the kubelet writes them.
        const path = opts.hostDir(name, vname);
        const mode = (s.defaultMode as number | undefined) ?? 0o644;
        hostDirs.push({
          path,
          mode: 0o755,
          gid: fsGroup,
          files: items.map((it) => ({ path: it.path, content: data.get(it.key)!, mode: (it.mode ?? mode) | (fsGroup !== undefined ? 0o040 : 0) })),
        });
        return { name: vname, hostPath: { path, type: 'Directory' } };
      }
      if (v.persistentVolumeClaim) {
        const c = onlyKeys(v.persistentVolumeClaim, ['claimName', 'readOnly'], `${vw}.persistentVolumeClaim`);
        volumes.push(c.claimName as string);
        return v;
      }
      return fail(vw, 'a volume of no known type');
    });
    // A StatefulSet's claims: podman makes a named volume of each (it copies the image's ownership
    // of the mount point into a new one, as fsGroup would on a cluster).
    for (const [vname, claim] of claims) {
      (spec.volumes as Obj[]).push({ name: vname, persistentVolumeClaim: { claimName: claim } });
      volumes.push(claim);
    }

    const probes: Probe[] = [];
    const containerPorts: { name?: string; containerPort: number }[] = [];
    const convertContainer = (c0: Obj, i: number, list: string): Obj => {
      const cw = `${owner}.spec.template.spec.${list}[${i}]`;
      const c = clone(onlyKeys(c0, CONTAINER_KEYS, cw));
      const cname = c.name as string;
      const portByName = new Map(((c.ports ?? []) as { name?: string; containerPort: number }[]).map((p) => [p.name, p.containerPort]));
      for (const [j, p] of ((c.ports ?? []) as Obj[]).entries()) {
        onlyKeys(p, ['name', 'containerPort', 'protocol'], `${cw}.ports[${j}]`);
      }
      // Podman 4.3 publishes every containerPort on the host's port of the same number (two runs
      // would collide, and Kubernetes publishes none without a hostPort): the ports are kept for
      // the Services and probes resolved here, and taken off the played container.
      const ports = (c.ports ?? []) as { name?: string; containerPort: number }[];
      delete c.ports;
      containerPorts.push(...ports);

      // Env in the kubelet's order: envFrom, then env (later wins), each value expanded against
      // the ones before it. Every value is made literal: podman 4.3 fails on secretKeyRef ("secret
      // … is not valid JSON"; fixed in 4.4) and expands no $(VAR), so the converter must know
      // every value anyway.
      const vars = new Map<string, string>();
      for (const [j, ef] of ((c.envFrom ?? []) as Obj[]).entries()) {
        onlyKeys(ef, ['secretRef', 'configMapRef', 'prefix'], `${cw}.envFrom[${j}]`);
        const ref = (ef.secretRef ?? ef.configMapRef) as { name: string } | undefined;
        if (!ref) fail(`${cw}.envFrom[${j}]`, 'neither secretRef nor configMapRef');
        const data = ef.secretRef ? secrets.get(ref.name) : configMaps.get(ref.name)?.data;
        if (!data) fail(`${cw}.envFrom[${j}]`, `${ef.secretRef ? 'Secret' : 'ConfigMap'} ${ref.name} is not in the rendered objects`);
        for (const [k, v] of data) vars.set(`${(ef.prefix as string | undefined) ?? ''}${k}`, v.toString('utf8'));
      }
      for (const [j, e] of ((c.env ?? []) as Obj[]).entries()) {
        const ew = `${cw}.env[${j}]`;
        onlyKeys(e, ['name', 'value', 'valueFrom'], ew);
        const n = e.name as string;
        if (!e.valueFrom) {
          vars.set(n, expandVars(String(e.value ?? ''), vars));
          continue;
        }
        const vf = onlyKeys(e.valueFrom, ['secretKeyRef', 'configMapKeyRef', 'fieldRef'], `${ew}.valueFrom`);
        if (vf.secretKeyRef || vf.configMapKeyRef) {
          const ref = onlyKeys(vf.secretKeyRef ?? vf.configMapKeyRef, ['name', 'key', 'optional'], `${ew}.valueFrom`) as { name: string; key: string };
          const data = vf.secretKeyRef ? secrets.get(ref.name) : configMaps.get(ref.name)?.data;
          const v = data?.get(ref.key);
          if (v === undefined) fail(`${ew}.valueFrom`, `${vf.secretKeyRef ? 'Secret' : 'ConfigMap'} ${ref.name} key ${ref.key} is not in the rendered objects`);
          vars.set(n, v.toString('utf8'));
        } else {
          const f = onlyKeys(vf.fieldRef, ['fieldPath', 'apiVersion'], `${ew}.valueFrom.fieldRef`).fieldPath as string;
          const label = /^metadata\.labels\['(.+)'\]$/.exec(f);
          if (f === 'metadata.name') vars.set(n, name);
          else if (f === 'metadata.namespace') vars.set(n, opts.namespace);
          else if (label) vars.set(n, labels[label[1]] ?? '');
          else fail(`${ew}.valueFrom.fieldRef`, `fieldPath ${f}`);
        }
      }
      c.env = [...vars].map(([n, value]) => ({ name: n, value }));
      delete c.envFrom;
      for (const k of ['command', 'args']) if (c[k]) c[k] = (c[k] as unknown[]).map((a) => expandVars(String(a), vars));

      // Podman 4.3 turns probes into healthchecks that only systemd timers run (none here), and a
      // named port into `localhost:0`: they are taken off the played pod and the test runs them
      // itself, as the kubelet would.
      for (const kind of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const) {
        if (!c[kind]) continue;
        const p = onlyKeys(c[kind], ['httpGet', 'exec', 'periodSeconds', 'failureThreshold', 'initialDelaySeconds', 'timeoutSeconds'], `${cw}.${kind}`);
        if (p.httpGet) {
          const h = onlyKeys(p.httpGet, ['path', 'port'], `${cw}.${kind}.httpGet`);
          const port = typeof h.port === 'number' ? h.port : portByName.get(h.port as string);
          if (port === undefined) fail(`${cw}.${kind}.httpGet.port`, `no container port named ${String(h.port)}`);
          probes.push({ container: cname, kind, httpGet: { path: h.path as string, port } });
        } else if (p.exec) {
          probes.push({ container: cname, kind, exec: { command: (onlyKeys(p.exec, ['command'], `${cw}.${kind}.exec`).command as string[]).slice() } });
        } else fail(`${cw}.${kind}`, 'a probe that is neither httpGet nor exec');
        delete c[kind];
      }
      for (const [j, vm] of ((c.volumeMounts ?? []) as Obj[]).entries()) {
        onlyKeys(vm, ['name', 'mountPath', 'readOnly', 'subPath'], `${cw}.volumeMounts[${j}]`);
        if (!(spec.volumes as Obj[]).some((v) => v.name === vm.name)) fail(`${cw}.volumeMounts[${j}]`, `no volume named ${String(vm.name)}`);
      }
      return c;
    };
    const containers = (spec.containers as Obj[]).map((c, i) => convertContainer(c, i, 'containers'));
    const initContainers = ((spec.initContainers ?? []) as Obj[]).map((c, i) => convertContainer(c, i, 'initContainers'));
    spec.containers = containers;
    if (initContainers.length) spec.initContainers = initContainers;

    // Kubernetes checks annotations only for size (256 KiB in all); podman 4.3 refuses a value
    // over 63 characters as it does a label's. The chart keeps its checksums within that, so they
    // are played as written.
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels, ...(tmeta.annotations ? { annotations: tmeta.annotations } : {}) }, spec };
    const cmDocs = [...usedConfigMaps].map((n) => {
      const m = clone(configMaps.get(n)!.manifest) as Manifest;
      return {
        apiVersion: m.apiVersion,
        kind: m.kind,
        metadata: { name: m.metadata.name },
        ...(m.data ? { data: m.data } : {}),
        ...(m.binaryData ? { binaryData: m.binaryData } : {}),
      };
    });
    const aliases = [...extraAliases];
    for (const s of services) {
      if (!selects(s.selector, labels)) continue;
      // An alias reaches the pod itself: a Service port must be the container port it targets.
      for (const p of s.ports) {
        const target = typeof p.targetPort === 'number' ? p.targetPort : containerPorts.find((cp) => cp.name === p.targetPort)?.containerPort;
        if (target === undefined) fail(`Service/${s.name}`, `targetPort ${p.targetPort} is no port of ${owner}'s containers`);
        if (target !== p.port) fail(`Service/${s.name}`, `port ${p.port} → ${target}: a network alias cannot map ports`);
      }
      aliases.push(s.name, `${s.name}.${opts.namespace}`, `${s.name}.${opts.namespace}.svc`, `${s.name}.${opts.namespace}.svc.cluster.local`);
    }
    return {
      name,
      owner,
      labels,
      yaml: [pod, ...cmDocs].map((d) => stringify(d, { lineWidth: 0 })).join('---\n'),
      aliases,
      hostDirs,
      volumes,
      containers: containers.map((c) => c.name as string),
      initContainers: initContainers.map((c) => c.name as string),
      grace: (spec.terminationGracePeriodSeconds as number | undefined) ?? 30,
      probes,
      restartPolicy: (spec.restartPolicy as string | undefined) ?? 'Always',
    };
  }

  const workloads: Workload[] = workloadManifests.map((m) => {
    const where = `${m.kind}/${m.metadata.name}`;
    const labels = (m.metadata.labels ?? {}) as Labels;
    if (m.kind === 'Deployment') {
      // Podman plays a Deployment's pods once and has no ReplicaSet to scale them: each replica is
      // played as a Pod from the template, so the test can add and stop one as `kubectl scale` does.
      const spec = onlyKeys((m as Obj).spec, ['replicas', 'strategy', 'selector', 'template'], `${where}.spec`);
      const template = spec.template as Obj;
      checkSelector(where, spec.selector, template);
      return {
        kind: 'Deployment',
        name: m.metadata.name,
        labels,
        replicas: (spec.replicas as number | undefined) ?? 1,
        pod: (i) => makePod(where, `${m.metadata.name}-${opts.podSuffix(m.metadata.name, i)}`, template, new Map(), []),
      };
    }
    if (m.kind === 'StatefulSet') {
      // Podman plays no StatefulSet: its pod <name>-<i> is played as a Pod with the claims of its
      // volumeClaimTemplates (named <claim>-<name>-<i> as the controller names them) and the
      // per-pod DNS name <pod>.<serviceName> its governing Service gives.
      const spec = onlyKeys((m as Obj).spec, ['serviceName', 'replicas', 'selector', 'template', 'volumeClaimTemplates'], `${where}.spec`);
      const template = spec.template as Obj;
      checkSelector(where, spec.selector, template);
      return {
        kind: 'StatefulSet',
        name: m.metadata.name,
        labels,
        replicas: (spec.replicas as number | undefined) ?? 1,
        pod: (i) => {
          const pod = `${m.metadata.name}-${i}`;
          const claims = new Map<string, string>();
          for (const [j, t] of ((spec.volumeClaimTemplates ?? []) as Obj[]).entries()) {
            const tw = `${where}.spec.volumeClaimTemplates[${j}]`;
            onlyKeys(t, ['metadata', 'spec'], tw);
            onlyKeys(t.spec, ['accessModes', 'storageClassName', 'resources'], `${tw}.spec`);
            const cname = (t.metadata as { name: string }).name;
            claims.set(cname, `${cname}-${pod}`);
          }
          const svc = spec.serviceName as string;
          return makePod(where, pod, template, claims, [`${pod}.${svc}`, `${pod}.${svc}.${opts.namespace}.svc`]);
        },
      };
    }
    // Podman plays no Job: its pod is played as a Pod with the template's restartPolicy. The Job
    // controller's limits (backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished) have no
    // one to enforce them here: the test bounds the pod's run itself.
    const spec = onlyKeys(
      (m as Obj).spec,
      ['backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'template', 'completions', 'parallelism'],
      `${where}.spec`,
    );
    if ((spec.completions ?? 1) !== 1 || (spec.parallelism ?? 1) !== 1) fail(`${where}.spec`, 'a Job of more than one pod');
    const template = spec.template as Obj;
    const rp = (template.spec as Obj).restartPolicy;
    if (rp !== 'OnFailure' && rp !== 'Never') fail(`${where}.spec.template.spec.restartPolicy`, `${String(rp)} (a Job needs OnFailure or Never)`);
    return {
      kind: 'Job',
      name: m.metadata.name,
      labels,
      replicas: 1,
      pod: (i) => makePod(where, `${m.metadata.name}-${opts.podSuffix(m.metadata.name, i)}`, template, new Map(), []),
    };
  });

  return { namespace: opts.namespace, workloads, services, secrets, notPlayed };
}

/** A workload whose selector does not select its own template would never own its pods. */
function checkSelector(where: string, selector: unknown, template: Obj) {
  const s = onlyKeys(selector, ['matchLabels'], `${where}.spec.selector`);
  const labels = ((template.metadata as Obj | undefined)?.labels ?? {}) as Labels;
  for (const [k, v] of Object.entries((s.matchLabels ?? {}) as Labels)) {
    if (labels[k] !== v) fail(`${where}.spec.selector`, `matchLabels ${k}=${v} does not select the pod template (labels ${JSON.stringify(labels)})`);
  }
}
