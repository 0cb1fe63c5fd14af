// `oct pack-turrets`: one tar per turret of a project, holding everything a machine with oct
// installed needs to run it: config.json (the turret config), the script, extra_files, and a
// package.json listing turrets_requirements so `npm install` in the unpacked dir gets them.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { c as createTar } from 'tar';
import { ConfigError, HTTP_DEFAULTS, parseJsonText, parseProjectConfig, type ProjectConfig, type TurretEntry } from '../protocol/config.ts';
import { KEY_FILES, readTurretKeys, type TurretKeys, writeTurretKeys } from '../common/keys-dir.ts';

/** Where a packed turret's CURVE keys sit in its tar (its config's keys_dir). */
export const PACKED_KEYS_DIR = 'keys';

const OPTIONAL_KEYS = ['hq_address', 'publish_port', 'rc_port'] as const;

/** "name", "name@range", "@scope/name@range" → [name, range]. */
export function parseRequirement(req: string): [string, string] {
  const at = req.lastIndexOf('@');
  if (at <= 0) return [req, '*'];
  return [req.slice(0, at), req.slice(at + 1) || '*'];
}

export function turretPackageJson(config: ProjectConfig, turret: string): Record<string, unknown> {
  return {
    name: `oct-turret-${turret.toLowerCase().replace(/[^a-z0-9._-]/g, '-')}`,
    private: true,
    type: 'module',
    description: `oct turret "${turret}": run with \`oct turret --config config.json\` after \`npm install\``,
    dependencies: Object.fromEntries(config.turrets_requirements.map(parseRequirement)),
  };
}

export function turretConfigJson(config: ProjectConfig, t: TurretEntry): Record<string, unknown> {
  return {
    ...config.extra_turret_config,
    name: t.name,
    canons: t.canons,
    rampup: t.rampup,
    script: toPosix(t.script),
    hq_address: config.hq_address,
    hq_publisher: config.publish_port,
    hq_rc: config.rc_port,
    ...(config.keys_dir !== undefined ? { keys_dir: PACKED_KEYS_DIR } : {}),
    // Only when set: a turret's default is the project's, and the original's configs have no such key.
    ...(isDefaultHttp(config.http) ? {} : { http: packedHttp(config) }),
  };
}

const isDefaultHttp = (http: ProjectConfig['http']) => JSON.stringify(http) === JSON.stringify(HTTP_DEFAULTS);

function packedHttp(config: ProjectConfig): ProjectConfig['http'] {
  if (!config.http.tls) return config.http;
  return { ...config.http, tls: { ...config.http.tls, ...Object.fromEntries(tlsFiles(config).map(([k, f]) => [k, toPosix(f)])) } };
}

/** The TLS files of the project's http settings, by key: packed beside the script. */
function tlsFiles(config: ProjectConfig): [key: 'ca_file' | 'cert_file' | 'key_file', file: string][] {
  const tls = config.http.tls;
  if (!tls) return [];
  return (['ca_file', 'cert_file', 'key_file'] as const).flatMap((k) => (tls[k] ? [[k, tls[k]] as [typeof k, string]] : []));
}

function toPosix(p: string): string {
  return normalize(p).split('\\').join('/');
}

/** A project file to pack: must exist and stay inside the project (a tar entry with ../ is refused). */
function projectFile(projectDir: string, file: string, key: string, source: string): string {
  const abs = resolve(projectDir, file);
  const rel = relative(projectDir, abs);
  if (isAbsolute(file) || rel.startsWith('..')) throw new ConfigError(source, [`${key}: "${file}" must be a path inside the project`]);
  if (!existsSync(abs) || !statSync(abs).isFile()) throw new ConfigError(source, [`${key}: file not found: ${abs}`]);
  return toPosix(rel);
}

export interface PackOptions {
  outDir: string;
  print: (line: string) => void;
}

export async function packTurrets(projectDir: string, opts: PackOptions): Promise<string[]> {
  const dir = resolve(projectDir);
  const source = join(dir, 'config.json');
  if (!existsSync(source)) throw new ConfigError(source, ['file not found (is this an oct project?)']);
  const raw = parseJsonText(readFileSync(source, 'utf8'), source);
  const config = parseProjectConfig(raw, source);
  for (const key of OPTIONAL_KEYS) {
    if (!(key in (raw as Record<string, unknown>)))
      opts.print(`WARNING: ${key} configuration key not present, the value will be set to default value (${String(config[key])})`);
  }
  if (config.turrets.length === 0) throw new ConfigError(source, ['turrets: no turret to pack']);
  // The turret's half of the keys (never hq.key): read, so a bad key file fails before any tar.
  const keys: TurretKeys | null = config.keys_dir !== undefined ? readTurretKeys(resolve(dir, config.keys_dir)) : null;
  // Check every file before writing any archive, so a typo leaves nothing half-done.
  const plans = config.turrets.map((t, i) => ({
    turret: t,
    files: [
      projectFile(dir, t.script, `turrets[${i}].script`, source),
      ...t.extra_files.map((f, k) => projectFile(dir, f, `turrets[${i}].extra_files[${k}]`, source)),
      ...tlsFiles(config).map(([k, f]) => projectFile(dir, f, `http.tls.${k}`, source)),
    ],
  }));
  if (!keys && !config.allow_plaintext)
    opts.print('WARNING: no keys_dir in config.json: these turrets connect without CURVE, and an HQ on every interface refuses them (see `oct keys`)');
  mkdirSync(opts.outDir, { recursive: true });
  const archives: string[] = [];
  for (const { turret, files } of plans) {
    const staging = mkdtempSync(join(tmpdir(), 'oct-pack-'));
    try {
      writeFileSync(join(staging, 'config.json'), `${JSON.stringify(turretConfigJson(config, turret), null, 2)}\n`);
      writeFileSync(join(staging, 'package.json'), `${JSON.stringify(turretPackageJson(config, turret.name), null, 2)}\n`);
      const entries = ['config.json', 'package.json'];
      if (keys) {
        writeTurretKeys(join(staging, PACKED_KEYS_DIR), keys);
        entries.push(...[KEY_FILES.hqPublic, KEY_FILES.turretSecret, KEY_FILES.turretPublic].map((f) => `${PACKED_KEYS_DIR}/${f}`));
      }
      for (const f of new Set(files)) {
        mkdirSync(dirname(join(staging, f)), { recursive: true });
        copyFileSync(join(dir, f), join(staging, f));
        entries.push(f);
      }
      const archive = join(opts.outDir, `${turret.name}.tar`);
      await createTar({ file: archive, cwd: staging, portable: true }, entries);
      for (const e of entries) opts.print(`Added ${e}`);
      const shown = relative(process.cwd(), archive);
      opts.print(`Archive ${shown.startsWith('..') || isAbsolute(shown) ? archive : `./${shown}`} created`);
      opts.print('=========================================');
      archives.push(archive);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  return archives;
}
