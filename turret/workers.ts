// `oct turret --workers N`: one turret process per core. Each worker is a whole turret (its own
// uuid, sockets and seq stream, under the same name, like the pods of one Deployment) running its
// share of the canons; this parent only starts them, passes signals on, and exits with the worst
// of their codes. Processes rather than worker threads: a turret's hot path (undici, ZeroMQ, the
// script) is all in one event loop, and a process per core keeps each loop to itself.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Logger } from '../common/log.ts';

/** The CPUs this process may use: its affinity, and the cgroup's CPU quota on Kubernetes. */
export function availableCpus(cpuMax = '/sys/fs/cgroup/cpu.max'): number {
  let n = availableParallelism();
  try {
    const [quota, period] = readFileSync(cpuMax, 'utf8').trim().split(/\s+/);
    if (quota && quota !== 'max' && Number(period) > 0) n = Math.min(n, Math.max(1, Math.ceil(Number(quota) / Number(period))));
  } catch {
    // No cgroup v2 CPU controller here: the affinity alone.
  }
  return n;
}

/** Worker `index` of `count`'s share of `total` canons: as even as can be, the first ones take the remainder. */
export function canonShare(total: number, index: number, count: number): number {
  return Math.floor(total / count) + (index < total % count ? 1 : 0);
}

/** A worker's `--worker I/N` value, parsed; null when absent, an error message when malformed. */
export function parseWorkerSlot(text: string | undefined): { index: number; count: number } | null | string {
  if (text === undefined) return null;
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) return `--worker: expected I/N with 0 ≤ I < N, got "${text}"`;
  return { index, count };
}

/** Starts `count` workers of `bin turret <args>` and resolves to the worst exit code. */
export async function runTurretWorkers(opts: { bin: string; args: string[]; count: number; log: Logger }): Promise<number> {
  opts.log.info('starting turret workers', { workers: opts.count });
  const children = Array.from({ length: opts.count }, (_, i) =>
    spawn(process.execPath, [opts.bin, 'turret', ...opts.args, '--workers', '1', '--worker', `${i}/${opts.count}`], { stdio: 'inherit' }),
  );
  const exited = children.map((child) => new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))));
  const forward = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  try {
    return Math.max(...(await Promise.all(exited)));
  } finally {
    process.off('SIGTERM', forward);
    process.off('SIGINT', forward);
  }
}
