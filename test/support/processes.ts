// Helpers for tests and benchmarks that run real processes on loopback.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const OCT_BIN = join(import.meta.dirname, '..', '..', 'bin', 'oct.js');

// Ports handed out in this process, so two calls never return the same one.
const handedOut = new Set<number>();

/**
 * A TCP port free on 127.0.0.1 right now, chosen below Linux's ephemeral range (32768–60999). A port the
 * OS picks with listen(0) comes from that range, so between this check and the program binding it, any
 * outgoing connection on the machine can take it as its local port (CI failed once on exactly that:
 * "Address already in use" on rc_port). Ports below the range are only ever taken by a bind.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free TCP port found between 20000 and 32000 on 127.0.0.1');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
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

/** Command lines of every process on this machine, from /proc (procps' `ps` is not installed everywhere). */
export function processCommandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim());
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}
