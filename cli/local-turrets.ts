// The local half of the launcher: the project's turrets as child processes of `oct run`, each
// running `oct turret --config FILE` exactly as it would on another machine.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../common/log.ts';
import { HTTP_DEFAULTS, type HttpConfig, type ProjectConfig } from '../protocol/config.ts';

/** The project's http settings with its TLS files as absolute paths (a turret's config lives elsewhere). */
function absoluteTls(http: HttpConfig, projectDir: string): HttpConfig {
  if (!http.tls) return http;
  const abs = (f: string | undefined) => (f === undefined ? undefined : resolve(projectDir, f));
  return { ...http, tls: { ...http.tls, ca_file: abs(http.tls.ca_file), cert_file: abs(http.tls.cert_file), key_file: abs(http.tls.key_file) } };
}

const OCT_BIN = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'oct.js');

export interface LocalTurret {
  name: string;
  configPath: string;
  logPath: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

/** Turret config files as `oct pack-turrets` would write them, with absolute script paths. */
export function turretConfigs(config: ProjectConfig, projectDir: string, hq: { address: string; publishPort: number; resultsPort: number }, keysDir?: string) {
  return config.turrets.map((t) => ({
    replicas: t.replicas,
    turret: {
      ...config.extra_turret_config,
      name: t.name,
      canons: t.canons,
      rampup: t.rampup,
      script: resolve(projectDir, t.script),
      hq_address: hq.address,
      hq_publisher: hq.publishPort,
      hq_rc: hq.resultsPort,
      ...(keysDir ? { keys_dir: keysDir } : {}),
      ...(JSON.stringify(config.http) === JSON.stringify(HTTP_DEFAULTS) ? {} : { http: absoluteTls(config.http, projectDir) }),
    },
  }));
}

export function startLocalTurrets(opts: {
  config: ProjectConfig;
  projectDir: string;
  workDir: string;
  hq: { address: string; publishPort: number; resultsPort: number };
  log: Logger;
  verbose?: boolean;
  /** CURVE: the directory holding hq.pub and turret.key (absolute); absent: plaintext. */
  keysDir?: string;
}): LocalTurret[] {
  const dir = join(opts.workDir, 'turrets');
  mkdirSync(dir, { recursive: true });
  // Milliseconds since this process started: where start-up time goes shows in a -vv log.
  opts.log.debug('starting the local turrets', { sinceStartMs: Math.round(performance.now()) });
  return turretConfigs(opts.config, opts.projectDir, opts.hq, opts.keysDir).flatMap(({ replicas, turret: tc }) => {
    const configPath = join(dir, `${tc.name}.json`);
    writeFileSync(configPath, JSON.stringify(tc, null, 2));
    // Replicas share the name and config, each its own process and uuid (as pods of one Deployment).
    return Array.from({ length: replicas }, (_, i) =>
      startOne(tc.name, configPath, join(dir, replicas > 1 ? `${tc.name}-${i + 1}.log` : `${tc.name}.log`), opts),
    );
  });
}

function startOne(name: string, configPath: string, logPath: string, opts: { projectDir: string; log: Logger; verbose?: boolean }): LocalTurret {
  const out = openSync(logPath, 'a');
  const child = spawn(process.execPath, [OCT_BIN, 'turret', '--config', configPath, ...(opts.verbose ? ['--verbose'] : [])], {
    stdio: ['ignore', out, out],
    cwd: opts.projectDir,
  });
  closeSync(out);
  const turret: LocalTurret = {
    name,
    configPath,
    logPath,
    child,
    exitCode: undefined,
    exited: new Promise((res) => child.once('exit', (code, signal) => res(code ?? (signal ? 128 : null)))),
  };
  void turret.exited.then((code) => {
    turret.exitCode = code;
    if (code !== 0) opts.log.warn(`turret ${name} exited`, { code, log: logPath });
  });
  return turret;
}

export function logTail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** SIGTERM is a turret's graceful stop (flush, final status); SIGKILL only after the grace. */
export async function stopLocalTurrets(turrets: LocalTurret[], graceMs = 10_000): Promise<void> {
  for (const t of turrets) if (t.exitCode === undefined) t.child.kill('SIGTERM');
  const timer = setTimeout(() => turrets.forEach((t) => t.exitCode === undefined && t.child.kill('SIGKILL')), graceMs);
  await Promise.all(turrets.map((t) => t.exited));
  clearTimeout(timer);
}
