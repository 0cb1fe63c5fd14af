// One canon, one virtual user: builds the script's Transaction once, then loops setup → timed
// run → tearDown until told to stop, recording one result per iteration. Canons are async tasks on
// the turret's event loop; each iteration ends with a macrotask yield so a script whose run() never
// really waits cannot starve orders, heartbeats and flushes. Measured, not assumed: the yield does
// not cost throughput on fast targets, it gains it (~18% more GETs per CPU second against a local
// nginx than skipping it after iterations that waited on I/O): the canons' next requests go out
// together in the check phase instead of one by one inside undici's response handling.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { INTENDED_LATENCY_SERIES, MAX_DURATION_SECONDS, type ResultRow } from '../protocol/results.ts';
import { describeError } from './describe-error.ts';
import { createHttpClient } from './http-client.ts';
import type { Dispatcher } from 'undici';
import type { Transaction, TransactionClass, TransactionContext } from './script-api.ts';

export interface CanonDeps {
  index: number;
  Transaction: TransactionClass;
  turret: { name: string; uuid: string };
  /** The turret's transaction context object, mutated in place by set_transaction_context. */
  data: Record<string, unknown>;
  dispatcher: Dispatcher;
  clock: Clock;
  log: Logger;
  /** Monotonic milliseconds at which the turret received `start`. */
  startedAt: number;
  record(row: ResultRow): void;
  stopRequested(): boolean;
  /** Whether the result buffer has room (saves an await per iteration); without it, waitForRoom() decides. */
  hasRoom?(): boolean;
  /** Resolves when the result buffer has room (backpressure when the HQ stops reading). */
  waitForRoom(): Promise<void>;
}

export class CanonConstructionError extends Error {
  constructor(
    readonly canon: number,
    cause: unknown,
  ) {
    super(`Transaction constructor threw: ${describeError(cause)}`);
    this.name = 'CanonConstructionError';
  }
}

// A timer the HQ would refuse (not a number, below zero, beyond a day) is not data: dropping it
// here keeps the rest of the batch acceptable, so rows and their aggregates stay in step.
function finiteTimers(timers: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof timers !== 'object' || timers === null) return out;
  for (const [k, v] of Object.entries(timers)) if (typeof v === 'number' && v >= 0 && v <= MAX_DURATION_SECONDS) out[k] = v;
  return out;
}

/** Builds the context and the Transaction; a throwing constructor becomes CanonConstructionError. */
export function buildTransaction(deps: CanonDeps): Transaction {
  let tx: Transaction | null = null;
  const recordTimer = (name: string, seconds: number) => {
    if (tx) tx.customTimers[name] = seconds;
  };
  const ctx: TransactionContext = {
    turret: deps.turret,
    canon: deps.index,
    data: deps.data,
    http: createHttpClient({ dispatcher: deps.dispatcher, recordTimer }),
    async timer(name, fn) {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        recordTimer(name, (performance.now() - t0) / 1000);
      }
    },
    sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(seconds) * 1000 || 0))),
    log: deps.log,
  };
  try {
    tx = new deps.Transaction(ctx);
  } catch (err) {
    throw new CanonConstructionError(deps.index, err);
  }
  if (typeof tx.customTimers !== 'object' || tx.customTimers === null) tx.customTimers = {};
  return tx;
}

/**
 * One iteration: setup → timed run → tearDown, one result recorded. `intendedMono` is when the
 * schedule wanted it to start (open model, pacing): the result then also carries the latency from
 * that moment to the end of run(), which a stalled target cannot hide (coordinated omission).
 */
export async function runIteration(deps: CanonDeps, tx: Transaction, intendedMono: number | null = null): Promise<void> {
  const { clock } = deps;
  // A fresh object each iteration: the original re-sent stale timers from earlier iterations.
  tx.customTimers = {};
  let error: string | null = null;
  let scriptrunTime = 0;
  let runEnd = 0; // clock.monotonic() at the end of run(), for the intended latency
  try {
    if (tx.setup) await tx.setup();
  } catch (err) {
    error = `setup: ${describeError(err)}`;
  }
  if (error === null) {
    const t0 = performance.now();
    try {
      await tx.run();
    } catch (err) {
      error = describeError(err);
    }
    scriptrunTime = (performance.now() - t0) / 1000;
    if (intendedMono !== null) runEnd = clock.monotonic();
  }
  try {
    if (tx.tearDown) await tx.tearDown();
    else if (tx.tear_down) await tx.tear_down();
  } catch (err) {
    error ??= `tearDown: ${describeError(err)}`;
  }
  const customTimers = finiteTimers(tx.customTimers);
  if (intendedMono !== null) customTimers[INTENDED_LATENCY_SERIES] = Math.max(0, ((runEnd || clock.monotonic()) - intendedMono) / 1000);
  deps.record({
    elapsed: (clock.monotonic() - deps.startedAt) / 1000,
    epoch: clock.now() / 1000,
    scriptrunTime,
    error,
    customTimers,
  });
}

export async function runCanon(deps: CanonDeps, tx: Transaction): Promise<number> {
  let iterations = 0;
  while (!deps.stopRequested()) {
    await runIteration(deps, tx);
    iterations++;
    if (!deps.hasRoom?.()) await deps.waitForRoom();
    await yieldToLoop();
  }
  return iterations;
}
