// The helm binary: found on PATH or in the repo's .tools/bin (scripts/install-helm.sh), run as a
// child process. Only argument lists are built here; nothing goes through a shell.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { CHART_DIR } from './chart.ts';
import { DeployError } from './values.ts';

const REPO_TOOLS = resolve(CHART_DIR, '..', '..', '.tools', 'bin');

export function findHelm(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = env.OCT_HELM ? [env.OCT_HELM] : [...(env.PATH ?? '').split(delimiter).filter(Boolean), REPO_TOOLS].map((d) => join(d, 'helm'));
  return candidates.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function requireHelm(env: NodeJS.ProcessEnv = process.env): string {
  const helm = findHelm(env);
  if (!helm) {
    throw new DeployError(
      'helm not found (on PATH, in .tools/bin, or $OCT_HELM). Install Helm 3.8+ (https://helm.sh/docs/intro/install/), or run scripts/install-helm.sh in the oct repository; ' +
        'or render the chart with "oct deploy PROJECT --render DIR" and apply it your own way.',
    );
  }
  return helm;
}

export interface UpgradeArgs {
  release: string;
  namespace?: string;
  chart: string;
  valuesFiles: string[];
  set: string[];
  wait?: boolean;
  timeout?: string;
}

/** `helm upgrade --install`: the same command installs the first time and upgrades after. */
export function upgradeArgs(a: UpgradeArgs): string[] {
  const args = ['upgrade', '--install', a.release, a.chart];
  if (a.namespace) args.push('--namespace', a.namespace, '--create-namespace');
  for (const f of a.valuesFiles) args.push('--values', f);
  for (const s of a.set) args.push('--set', s);
  if (a.wait) args.push('--wait', '--timeout', a.timeout ?? '10m');
  return args;
}

export function uninstallArgs(release: string, namespace?: string, wait = true): string[] {
  return ['uninstall', release, ...(namespace ? ['--namespace', namespace] : []), ...(wait ? ['--wait'] : [])];
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runHelm(helm: string, args: string[], opts: { echo?: boolean } = {}): Promise<HelmResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(helm, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (opts.echo) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      if (opts.echo) process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}
