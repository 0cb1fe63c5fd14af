// What a transaction script sees: the shape of its Transaction class and the context each canon
// hands it. Re-exported by the package entry (index.ts) so scripts `import { BaseTransaction } from 'oct'`.
import type { Logger } from '../common/log.ts';
import type { CookieSession } from './cookies.ts';
import type { HttpClient } from './http-client.ts';
import type { WsClient } from './ws-client.ts';

export interface TransactionContext {
  turret: { name: string; uuid: string };
  /** This canon's index, 0-based. */
  canon: number;
  /** The HQ's transaction context (set_transaction_context), live: later updates show up here. */
  readonly data: Record<string, unknown>;
  /**
   * This canon's row of the project's data file (`data` in config.json): a CSV row as an object
   * of strings by header, or a JSON line's value. The HQ gives every canon its own row under the
   * default `unique` policy. undefined when the project has no data file.
   */
  readonly row: any;
  /**
   * HTTP client on the turret's keep-alive pool. Every request is a series of its own
   * (`GET /orders/:id`: method and grouped path, or `{ name }`), with statuses and bytes; cookies
   * go to and from `cookies`; redirects are followed. `{ timer: 'name' }` also records a custom timer.
   */
  http: HttpClient;
  /**
   * WebSocket client (`ws`): `connect(url)` (a series `WS connect <path>`), then `send`,
   * `waitFor(predicate, { timeoutMs })`, and `roundTrip(data, predicate, { name })`, measured as `WS <name>`.
   */
  ws: WsClient;
  /** The canon's cookie jar, kept across iterations; `cookies.clear()` in setup/tearDown starts a fresh session. */
  cookies: CookieSession;
  /**
   * Records a named check as passed when `condition` is truthy, failed otherwise, and returns
   * whether it passed. The iteration goes on either way; pass rates are in the live view, the
   * report and thresholds (`"checks": {"login ok": ">99%"}`).
   */
  check(name: string, condition: unknown): boolean;
  /** Times an async block into the current iteration's customTimers (seconds), returns its value. */
  timer<T>(name: string, fn: () => T | Promise<T>): Promise<T>;
  /** Think time: waits `seconds` (timed like any other wait when called inside run()). */
  sleep(seconds: number): Promise<void>;
  log: Logger;
}

/** The shape the turret runs. setup/tearDown are not part of scriptrun_time. */
export interface Transaction {
  /** Seconds per name; the turret gives every iteration a fresh object. */
  customTimers: Record<string, number>;
  setup?(): unknown;
  run(): unknown;
  tearDown?(): unknown;
  /** The original Python spelling, accepted too. */
  tear_down?(): unknown;
}

export type TransactionClass = new (ctx: TransactionContext) => Transaction;

/**
 * A convenient base: keeps `ctx`, has `customTimers`, and no-op setup/tearDown. Each canon builds
 * one instance and reuses it for every iteration, so fields set in the constructor persist.
 */
export abstract class BaseTransaction implements Transaction {
  customTimers: Record<string, number> = {};
  constructor(protected readonly ctx: TransactionContext) {}
  async setup(): Promise<void> {}
  abstract run(): unknown;
  async tearDown(): Promise<void> {}
}
