// The local half of the launcher: the project's turrets as child processes of `oct run`, each
// running `oct turret --config FILE` exactly as it would on another machine.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../common/log.ts';
import type { ProjectConfig } from '../protocol/config.ts';

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
export function turretConfigs(config: ProjectConfig, projectDir: string, hq: { address: string; publishPort: number; resultsPort: number }) {
  return config.turrets.map((t) => ({
    ...config.extra_turret_config,
    name: t.name,
    canons: t.canons,
    rampup: t.rampup,
    script: resolve(projectDir, t.script),
    hq_address: hq.address,
    hq_publisher: hq.publishPort,
    hq_rc: hq.resultsPort,
  }));
}

export function startLocalTurrets(opts: {
  config: ProjectConfig;
  projectDir: string;
  workDir: string;
  hq: { address: string; publishPort: number; resultsPort: number };
  log: Logger;
  verbose?: boolean;
}): LocalTurret[] {
  const dir = join(opts.workDir, 'turrets');
  mkdirSync(dir, { recursive: true });
  return turretConfigs(opts.config, opts.projectDir, opts.hq).map((tc) => {
    const configPath = join(dir, `${tc.name}.json`);
    const logPath = join(dir, `${tc.name}.log`);
    writeFileSync(configPath, JSON.stringify(tc, null, 2));
    const out = openSync(logPath, 'a');
    const child = spawn(process.execPath, [OCT_BIN, 'turret', '--config', configPath, ...(opts.verbose ? ['--verbose'] : [])], {
      stdio: ['ignore', out, out],
      cwd: opts.projectDir,
    });
    closeSync(out);
    const turret: LocalTurret = {
      name: tc.name,
      configPath,
      logPath,
      child,
      exitCode: undefined,
      exited: new Promise((res) => child.once('exit', (code, signal) => res(code ?? (signal ? 128 : null)))),
    };
    void turret.exited.then((code) => {
      turret.exitCode = code;
      if (code !== 0) opts.log.warn(`turret ${tc.name} exited`, { code, log: logPath });
    });
    return turret;
  });
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
