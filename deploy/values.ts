// A project (its parsed config.json and the files its turrets need) turned into the chart's values.
// Pure: the caller reads the files; the chart renders the ConfigMaps from these values, and
// configMapKey() mirrors the chart's "oct.fileKey" helper so clashes are caught here, not by the
// API server.
import { posix } from 'node:path';
import { HTTP_DEFAULTS, type ProjectConfig } from '../protocol/config.ts';

export class DeployError extends Error {
  override name = 'DeployError';
}

export interface ChartFile {
  path: string;
  content?: string;
  base64?: string;
}

export interface ChartTurret {
  name: string;
  replicas: number;
  canons: number;
  rampup: number;
  script: string;
  extraFiles: string[];
}

/** The part of the chart's values that comes from the project. */
export interface ProjectValues {
  config: Record<string, unknown>;
  turrets: ChartTurret[];
  files: ChartFile[];
  turretsRequirements: string[];
  hq: { ports: { publish: number; rc: number; http: number } };
  /** CURVE on the cluster: the chart's keys Secret; off only when the project opts out. */
  curve: { enabled: boolean };
}

export interface BuildResult {
  values: ProjectValues;
  warnings: string[];
}

/** A ConfigMap (like every object) must stay under 1 MiB; leave room for metadata. */
export const MAX_FILES_BYTES = 900 * 1024;

// Keys the chart sets itself or that mean nothing in a cluster.
const CLUSTER_OWNED = ['turrets', 'turrets_requirements', 'publish_port', 'rc_port', 'http_port', 'hq_address', 'keys_dir', 'allow_plaintext'] as const;

export function configMapKey(path: string): string {
  return path.replace(/[^-._a-zA-Z0-9]/g, '_');
}

/** A project-relative POSIX path, or an error naming the config key it came from. */
export function normalizeProjectPath(p: string, where: string): string {
  const n = posix.normalize(p.replace(/\\/g, '/')).replace(/^\.\//, '');
  if (posix.isAbsolute(n) || n === '..' || n.startsWith('../') || n === '.' || n === '') {
    throw new DeployError(`${where}: "${p}" must be a path inside the project folder`);
  }
  return n;
}

function isUtf8Text(buf: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return !buf.includes(0);
  } catch {
    return false;
  }
}

/** Files as the chart's `files` value: text when it is UTF-8, base64 (binaryData) otherwise. */
export function chartFiles(files: ReadonlyMap<string, Uint8Array>): ChartFile[] {
  const keys = new Map<string, string>();
  let total = 0;
  const out: ChartFile[] = [];
  for (const [path, buf] of [...files.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const key = configMapKey(path);
    const clash = keys.get(key);
    if (clash !== undefined) throw new DeployError(`files "${clash}" and "${path}" map to the same ConfigMap key "${key}": rename one`);
    keys.set(key, path);
    total += buf.byteLength;
    out.push(isUtf8Text(buf) ? { path, content: Buffer.from(buf).toString('utf8') } : { path, base64: Buffer.from(buf).toString('base64') });
  }
  if (total > MAX_FILES_BYTES) {
    throw new DeployError(
      `the project's files for the chart (scripts, extra files, TLS files, the data file) add up to ${total} bytes; a ConfigMap holds at most ${MAX_FILES_BYTES} here: bake large files into a derived turret image`,
    );
  }
  return out;
}

/** The TLS files of `http.tls`, project-relative: every turret needs them. */
function tlsFiles(config: ProjectConfig): string[] {
  const tls = config.http.tls;
  if (!tls) return [];
  return (['ca_file', 'cert_file', 'key_file'] as const).flatMap((k) => (tls[k] ? [normalizeProjectPath(tls[k], `http.tls.${k}`)] : []));
}

/** Where the chart mounts the project's files, in the HQ's pod and the turrets' (charts/oct/templates). */
const FILES_DIR = '/app/project/files';

/** Every file the turrets and the HQ need, project-relative: scripts first, then extra files, TLS files, the data file. */
export function neededFiles(config: ProjectConfig): string[] {
  const paths = new Set<string>();
  config.turrets.forEach((t, i) => {
    paths.add(normalizeProjectPath(t.script, `turrets[${i}].script`));
    t.extra_files.forEach((f, j) => paths.add(normalizeProjectPath(f, `turrets[${i}].extra_files[${j}]`)));
  });
  for (const f of tlsFiles(config)) paths.add(f);
  // The HQ reads it (it mounts every file); turrets get their rows in orders.
  if (config.data) paths.add(normalizeProjectPath(config.data.file, 'data.file'));
  return [...paths];
}

/**
 * The chart values for a project. `files` holds the contents of neededFiles(config);
 * `packageDependencies` are the project's package.json dependencies, which the turrets install
 * like turrets_requirements.
 */
export function buildProjectValues(
  config: ProjectConfig,
  files: ReadonlyMap<string, Uint8Array>,
  packageDependencies: Record<string, string> = {},
): BuildResult {
  const warnings: string[] = [];
  if (config.turrets.length === 0) throw new DeployError('config.json has no turrets: nothing would generate load');
  for (const p of neededFiles(config)) {
    if (!files.has(p)) throw new DeployError(`missing file contents for "${p}"`);
  }

  const rest: Record<string, unknown> = { ...config };
  for (const k of CLUSTER_OWNED) delete rest[k];
  const db = { ...(config.results_database as Record<string, unknown>) };
  if (db.db_uri) warnings.push("results_database.db_uri is ignored on Kubernetes: the chart's database.* values choose the database");
  delete db.db_uri;
  rest.results_database = db;
  if (config.keys_dir !== undefined)
    warnings.push('keys_dir is ignored on Kubernetes: the chart generates the CURVE keys into a Secret (or mounts curve.existingSecret)');
  // The data file and the TLS files are read where the chart mounts the project's files.
  if (config.data) rest.data = { ...config.data, file: `${FILES_DIR}/${normalizeProjectPath(config.data.file, 'data.file')}` };
  const tls = config.http.tls;
  if (tls) {
    const at = (f: string | undefined, key: string) => (f === undefined ? undefined : `${FILES_DIR}/${normalizeProjectPath(f, `http.tls.${key}`)}`);
    const http = {
      ...config.http,
      tls: { ...tls, ca_file: at(tls.ca_file, 'ca_file'), cert_file: at(tls.cert_file, 'cert_file'), key_file: at(tls.key_file, 'key_file') },
    };
    // Turrets read their http settings from their own config: extra_turret_config reaches it (oct.turretConfig).
    rest.extra_turret_config = { ...config.extra_turret_config, http };
  } else if (JSON.stringify(config.http) !== JSON.stringify(HTTP_DEFAULTS)) rest.extra_turret_config = { ...config.extra_turret_config, http: config.http };
  if (config.hq_address !== '127.0.0.1') warnings.push(`hq_address "${config.hq_address}" is ignored on Kubernetes: turrets reach the HQ through its Service`);

  const replicas = config.turrets.reduce((n, t) => n + t.replicas, 0);
  if (config.min_turrets > replicas) {
    warnings.push(`min_turrets is ${config.min_turrets} but the turrets add up to ${replicas} pods: the HQ will wait for turrets that never come`);
  }

  const turrets = config.turrets.map((t, i) => ({
    name: t.name,
    replicas: t.replicas,
    canons: t.canons,
    rampup: t.rampup,
    script: normalizeProjectPath(t.script, `turrets[${i}].script`),
    extraFiles: [...new Set([...t.extra_files.map((f, j) => normalizeProjectPath(f, `turrets[${i}].extra_files[${j}]`)), ...tlsFiles(config)])],
  }));

  const requirements = new Set(config.turrets_requirements);
  for (const [name, range] of Object.entries(packageDependencies)) {
    if (![...requirements].some((r) => r === name || r.startsWith(`${name}@`))) requirements.add(range && range !== '*' ? `${name}@${range}` : name);
  }

  return {
    values: {
      config: rest,
      turrets,
      files: chartFiles(files),
      turretsRequirements: [...requirements],
      hq: { ports: { publish: config.publish_port, rc: config.rc_port, http: config.http_port } },
      curve: { enabled: !config.allow_plaintext },
    },
    warnings,
  };
}

/** Deep merge for values: objects merge, everything else (arrays included) is replaced, as Helm does. */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeValues(base[k], v);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
