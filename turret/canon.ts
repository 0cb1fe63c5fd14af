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
import { CookieSession } from './cookies.ts';
import { createHttpClient, type HttpClient, type RequestRecorder } from './http-client.ts';
import type { AgentTls, HttpTransport } from './http-transport.ts';
import type WebSocket from 'ws';
import { createWsClient, type WsClient } from './ws-client.ts';
import type { Dispatcher } from 'undici';
import type { Transaction, TransactionClass, TransactionContext } from './script-api.ts';

export interface CanonDeps {
  index: number;
  /** The turret's TLS settings (http.tls), for ctx.ws; ctx.http's transports hold them already. */
  tls?: AgentTls;
  Transaction: TransactionClass;
  turret: { name: string; uuid: string };
  /** The turret's transaction context object, mutated in place by set_transaction_context. */
  data: Record<string, unknown>;
  /** undici's pool when the turret uses it (http.client "undici"); else `transport`. */
  dispatcher?: Dispatcher;
  clock: Clock;
  /** The turret's logger: the canon's ctx.log is its child `canon.<index>`, made on first use. */
  log: Logger;
  /** Monotonic milliseconds at which the turret received `start`. */
  startedAt: number;
  record(row: ResultRow): void;
  stopRequested(): boolean;
  /** Whether the result buffer has room (saves an await per iteration); without it, waitForRoom() decides. */
  hasRoom?(): boolean;
  /** Resolves when the result buffer has room (backpressure when the HQ stops reading). */
  waitForRoom(): Promise<void>;
  /** Where requests and checks are counted, each in its own series (the turret's batcher). */
  metrics?: CanonMetrics;
  /** Canon `index`'s row of the project's data file (the HQ's split), read when the script asks. */
  row?: (index: number) => unknown;
  /** ctx.http's defaults and switches (the turret config's `http`). */
  http?: CanonHttpOptions;
  /** A canon's own connections for ctx.http, made on its first request; without it, `dispatcher`. */
  transport?: () => HttpTransport;
  /** The turret's open ctx.ws connections (it closes those left open when the canons stop). */
  webSockets?: Set<WebSocket>;
}

export interface CanonMetrics {
  /** One value of a series outside the iteration's fate (a WebSocket round trip). */
  sample(elapsed: number, series: string, seconds: number, failed: boolean): void;
  request(elapsed: number, series: string, seconds: number, failed: boolean, status: number, sent: number, received: number): void;
  check(elapsed: number, name: string, passed: boolean): void;
}

export interface CanonHttpOptions {
  maxRedirects?: number;
  timeoutMs?: number;
  /** false: no series per request (the script's own timers only). Default true. */
  requestMetrics?: boolean;
  /** false: no cookie jar (cookies are not kept between requests). Default true. */
  cookies?: boolean;
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
  for (const k in timers) {
    if (!Object.hasOwn(timers, k)) continue;
    const v = (timers as Record<string, unknown>)[k];
    if (typeof v === 'number' && v >= 0 && v <= MAX_DURATION_SECONDS) out[k] = v;
  }
  return out;
}

// Think time shared by every canon: it needs nothing of the canon, so it is one function, not one each.
function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(seconds) * 1000 || 0)));
}

/**
 * A canon's ctx. Memory per canon is what limits a turret to MAX_CANONS_LIMIT, so the context holds
 * plain fields and builds its HTTP client and logger on first use (a canon that only sleeps needs
 * neither): tsx compiles with keepNames, which gives every named closure its own property
 * dictionary (~300 bytes), and a client and a logger were eleven of those per canon. `timer` and
 * `sleep` stay own properties so a script may call them detached (`const { timer } = this.ctx`).
 */
class CanonContext implements TransactionContext {
  readonly turret: { name: string; uuid: string };
  readonly canon: number;
  readonly data: Record<string, unknown>;
  readonly sleep = sleep;
  readonly timer: TransactionContext['timer'];
  tx: Transaction | null = null;
  private client: HttpClient | null = null;
  private socketClient: WsClient | null = null;
  private jar: CookieSession | null = null;
  private logger: Logger | null = null;

  constructor(private readonly deps: CanonDeps) {
    this.turret = deps.turret;
    this.canon = deps.index;
    this.data = deps.data;
    this.timer = timerOf(this);
  }

  get row(): unknown {
    return this.deps.row?.(this.deps.index);
  }

  /** The canon's session: kept across its iterations, used by ctx.http and ctx.ws. */
  get cookies(): CookieSession {
    this.jar ??= new CookieSession();
    return this.jar;
  }

  get http(): HttpClient {
    this.client ??= this.makeHttp();
    return this.client;
  }

  get ws(): WsClient {
    const { metrics, http } = this.deps;
    this.socketClient ??= createWsClient({
      open: this.deps.webSockets,
      tls: this.deps.tls,
      cookies: http?.cookies === false ? undefined : this.cookies,
      record: metrics && http?.requestMetrics !== false ? (series, seconds, failed) => metrics.sample(this.elapsed(), series, seconds, failed) : undefined,
    });
    return this.socketClient;
  }

  get log(): Logger {
    this.logger ??= this.deps.log.child(`canon.${this.deps.index}`);
    return this.logger;
  }

  check(name: string, condition: unknown): boolean {
    if (typeof name !== 'string' || name === '') throw new TypeError('ctx.check(name, condition): name must be a non-empty string');
    const passed = Boolean(condition);
    this.deps.metrics?.check(this.elapsed(), name, passed);
    return passed;
  }

  recordTimer(name: string, seconds: number): void {
    if (this.tx) this.tx.customTimers[name] = seconds;
  }

  private elapsed(): number {
    return (this.deps.clock.monotonic() - this.deps.startedAt) / 1000;
  }

  private makeHttp(): HttpClient {
    const { metrics, http } = this.deps;
    const recordRequest: RequestRecorder | undefined =
      metrics && http?.requestMetrics !== false
        ? (series, seconds, failed, status, sent, received) => metrics.request(this.elapsed(), series, seconds, failed, status, sent, received)
        : undefined;
    return createHttpClient({
      transport: this.deps.transport?.(),
      dispatcher: this.deps.dispatcher,
      recordTimer: (name, seconds) => this.recordTimer(name, seconds),
      recordRequest,
      cookies: http?.cookies === false ? undefined : this.cookies,
      maxRedirects: http?.maxRedirects,
      timeoutMs: http?.timeoutMs,
    });
  }
}

// Returned, not declared, so tsx's keepNames does not give it a property dictionary of its own.
function timerOf(ctx: CanonContext): TransactionContext['timer'] {
  return async (name, fn) => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      ctx.recordTimer(name, (performance.now() - t0) / 1000);
    }
  };
}

/** Builds the context and the Transaction; a throwing constructor becomes CanonConstructionError. */
export function buildTransaction(deps: CanonDeps): Transaction {
  const ctx = new CanonContext(deps);
  let tx: Transaction;
  try {
    tx = new deps.Transaction(ctx);
  } catch (err) {
    throw new CanonConstructionError(deps.index, err);
  }
  ctx.tx = tx;
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
