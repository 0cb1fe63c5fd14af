// Helpers for tests and benchmarks that run real processes on loopback.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const OCT_BIN = join(import.meta.dirname, '..', '..', 'bin', 'oct.js');

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export interface Finished {
  /** null when killed (timeout) or when the program could not be started. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (SIGKILLed after timeoutMs); a program that cannot start resolves with its error in stderr. */
export function runProgram(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Finished> {
  return new Promise<Finished>((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.timeoutMs ?? 90_000} ms]`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 90_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + String(err) });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the real `oct` binary of this checkout to completion (killed after timeoutMs). */
export function oct(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Finished> {
  return runProgram(process.execPath, [OCT_BIN, ...args], opts);
}

/** Starts the real `oct` binary and leaves it running: for tests that signal it mid-run. */
export function startOct(args: string[], timeoutMs = 150_000): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(process.execPath, [OCT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return {
    child,
    done: new Promise((resolve) =>
      child.on('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      }),
    ),
  };
}
