// `oct pack-turrets`: one tar per turret of a project, holding everything a machine with oct
// installed needs to run it: config.json (the turret config), the script, extra_files, and a
// package.json listing turrets_requirements so `npm install` in the unpacked dir gets them.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, normalize, relative, resolve } from 'node:path';
import { c as createTar } from 'tar';
import { ConfigError, parseJsonText, parseProjectConfig, type ProjectConfig, type TurretEntry } from '../protocol/config.ts';

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
  };
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
  // Check every file before writing any archive, so a typo leaves nothing half-done.
  const plans = config.turrets.map((t, i) => ({
    turret: t,
    files: [
      projectFile(dir, t.script, `turrets[${i}].script`, source),
      ...t.extra_files.map((f, k) => projectFile(dir, f, `turrets[${i}].extra_files[${k}]`, source)),
    ],
  }));
  mkdirSync(opts.outDir, { recursive: true });
  const archives: string[] = [];
  for (const { turret, files } of plans) {
    const staging = mkdtempSync(join(tmpdir(), 'oct-pack-'));
    try {
      writeFileSync(join(staging, 'config.json'), `${JSON.stringify(turretConfigJson(config, turret), null, 2)}\n`);
      writeFileSync(join(staging, 'package.json'), `${JSON.stringify(turretPackageJson(config, turret.name), null, 2)}\n`);
      const entries = ['config.json', 'package.json'];
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
