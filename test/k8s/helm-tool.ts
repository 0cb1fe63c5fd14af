// The real helm binary for tests: PATH or .tools/bin, installed by scripts/install-helm.sh if missing.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CHART_DIR } from '../../deploy/chart.ts';
import { findHelm } from '../../deploy/helm.ts';

export function ensureHelm(): string {
  const found = findHelm();
  if (found) return found;
  execFileSync('bash', [join(CHART_DIR, '..', '..', 'scripts', 'install-helm.sh')], { stdio: 'inherit' });
  const helm = findHelm();
  if (!helm) throw new Error('scripts/install-helm.sh ran but helm is still missing');
  return helm;
}

export function helm(args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(ensureHelm(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}
