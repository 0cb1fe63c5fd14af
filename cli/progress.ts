// The live line of `oct run` / `oct deploy --wait`. On a terminal with progress_bar on, a bar that
// redraws in place; anywhere else (a pipe, CI logs, kubectl logs) one plain line every few seconds,
// so logs stay readable and grep-able instead of filling with carriage returns.
import { SingleBar } from 'cli-progress';
import { type Clock, systemClock } from '../common/clock.ts';
import type { TurretState } from '../protocol/incoming.ts';
import type { RunState } from '../store/types.ts';

export interface ProgressSnapshot {
  state: RunState;
  elapsedSeconds: number;
  runTime: number;
  turrets: { total: number; byState: Partial<Record<TurretState, number>> };
  canonsRunning: number;
  transactions: number;
  errors: number;
  ratePerSecond: number;
  malformed: number;
  /** Planned runs: iterations the turrets could not start in time. */
  droppedIterations?: number;
  /** ctx.check evaluations so far, every check together. */
  checks?: { passes: number; fails: number };
}

export interface ProgressOptions {
  /** Off: nothing is written (e.g. --quiet, or machine output on stdout). */
  enabled: boolean;
  /** The config's progress_bar: a bar when `out` is a terminal. */
  bar: boolean;
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  runTime: number;
  /** Plain mode: seconds between lines (a state change always prints). */
  plainEverySeconds?: number;
  clock?: Clock;
}

export interface ProgressDisplay {
  start(): void;
  update(p: ProgressSnapshot): void;
  /** Ends the display; prints the last snapshot if the last line written was older. */
  stop(): void;
}

function count(n: number): string {
  return Math.round(n).toString();
}

/** The original's line ("turrets: 1, elapsed: 20.0   transactions: 4906 ...") plus rate and state. */
export function formatProgressLine(p: ProgressSnapshot): string {
  const running = p.turrets.byState.running ?? 0;
  const turrets = running === p.turrets.total ? `${p.turrets.total}` : `${p.turrets.total} (${running} running)`;
  let line = `turrets: ${turrets}, elapsed: ${p.elapsedSeconds.toFixed(1)}   transactions: ${count(p.transactions)}  errors: ${count(p.errors)}  rate: ${p.ratePerSecond.toFixed(1)}/s`;
  if (p.canonsRunning) line += `  canons: ${p.canonsRunning}`;
  if (p.malformed) line += `  malformed: ${p.malformed}`;
  const checks = p.checks ? p.checks.passes + p.checks.fails : 0;
  if (checks) line += `  checks: ${((p.checks!.passes / checks) * 100).toFixed(1)}% (${p.checks!.fails} failed)`;
  // Said while it happens: a generator that cannot keep the rate is the first thing to know.
  if (p.droppedIterations) line += `  dropped: ${p.droppedIterations}`;
  if (p.state !== 'running') line += `  [${p.state}]`;
  return line;
}

class NoProgress implements ProgressDisplay {
  start(): void {}
  update(): void {}
  stop(): void {}
}

class PlainProgress implements ProgressDisplay {
  private lastPrintMs = -Infinity;
  private lastState: RunState | null = null;
  private pending: ProgressSnapshot | null = null;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly everyMs: number,
    private readonly clock: Clock,
  ) {}

  start(): void {}

  update(p: ProgressSnapshot): void {
    const now = this.clock.monotonic();
    if (p.state !== this.lastState || now - this.lastPrintMs >= this.everyMs) {
      this.out.write(`${formatProgressLine(p)}\n`);
      this.lastPrintMs = now;
      this.lastState = p.state;
      this.pending = null;
    } else {
      this.pending = p;
    }
  }

  stop(): void {
    if (this.pending) this.out.write(`${formatProgressLine(this.pending)}\n`);
    this.pending = null;
  }
}

class BarProgress implements ProgressDisplay {
  private readonly bar: SingleBar;
  private started = false;
  private last: ProgressSnapshot | null = null;

  constructor(
    out: ProgressOptions['out'],
    private readonly runTime: number,
  ) {
    this.bar = new SingleBar({
      stream: out as NodeJS.WritableStream,
      format: '{bar} {percentage}% | {line}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      // The line changes even when the bar does not (drain after run_time).
      forceRedraw: true,
      linewrap: false,
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.bar.start(Math.max(this.runTime, 0.001), 0, { line: 'waiting for turrets' });
  }

  update(p: ProgressSnapshot): void {
    this.start();
    this.last = p;
    this.bar.update(Math.min(p.elapsedSeconds, this.runTime), { line: formatProgressLine(p) });
  }

  stop(): void {
    if (!this.started) return;
    if (this.last) this.bar.update(Math.min(this.last.elapsedSeconds, this.runTime), { line: formatProgressLine(this.last) });
    this.bar.stop();
    this.started = false;
  }
}

export function createProgress(opts: ProgressOptions): ProgressDisplay {
  if (!opts.enabled) return new NoProgress();
  if (opts.bar && opts.out.isTTY === true) return new BarProgress(opts.out, opts.runTime);
  return new PlainProgress(opts.out, (opts.plainEverySeconds ?? 5) * 1000, opts.clock ?? systemClock);
}
