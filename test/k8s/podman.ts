// podman as the image and kube-play tests run it: rootful, runc, cgroupfs (no systemd here), with
// the ulimits Node and ZeroMQ need, through a containers.conf of its own (CONTAINERS_CONF).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART_DIR } from '../../deploy/chart.ts';

export const ROOT = join(CHART_DIR, '..', '..');

let conf: string | undefined;
export function podmanEnv(): NodeJS.ProcessEnv {
  if (!conf) {
    conf = join(mkdtempSync(join(tmpdir(), 'oct-podman-')), 'containers.conf');
    writeFileSync(
      conf,
      '[engine]\nruntime="runc"\ncgroup_manager="cgroupfs"\nevents_logger="file"\n[containers]\ndefault_ulimits=["nofile=16384:16384","nproc=16384:16384"]\n[network]\nnetwork_backend="netavark"\n',
    );
  }
  return { ...process.env, CONTAINERS_CONF: conf };
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (SIGKILLed after timeoutMs), never through a shell. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; signal?: AbortSignal } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: podmanEnv(), cwd: ROOT, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 300_000} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 300_000);
    opts.signal?.addEventListener('abort', () => child.kill('SIGKILL'), { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // a program that exits without reading its input
      child.stdin.end(opts.input);
    }
  });
}

export async function must(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

export const podman = (args: string[], opts?: { timeoutMs?: number; input?: string }) => must('podman', args, opts);
