// Orders, HQ → turrets: one frame "<channel> <json>", exactly as the original OCT frames them.
// The HQ only ever broadcasts (empty channel): a Python turret parses a topic-prefixed frame as JSON
// and dies, so an order for one turret is a broadcast that the others ignore.
import { type PlanWire, parsePlanWire, planToWire, type TurretPlan } from './load-plan.ts';

/** Which results the HQ stores row by row; aggregates are always kept. */
export type ResultsStorage = 'all' | 'errors' | 'none';
export const RESULTS_STORAGE: readonly ResultsStorage[] = ['all', 'errors', 'none'];

export type Order =
  | { command: 'status_request'; msg: null }
  | { command: 'set_transaction_context'; msg: Record<string, unknown> }
  | { command: 'start'; msg: 'open fire' }
  | { command: 'stop'; msg: 'premature stop' }
  | { command: 'kill'; msg: null }
  /** oct turrets only: the turret's share of the run's load (protocol/load-plan.ts). */
  | { command: 'plan'; msg: PlanWire }
  /** oct turrets only: which results to send as rows too (the rest travel only in aggregates). */
  | { command: 'results_storage'; msg: ResultsStorage }
  /** oct turrets only: per turret uuid, the highest seq up to which everything is stored (docs/protocol.md). */
  | { command: 'ack'; msg: AckWire }
  /** oct turrets only: the rows of the project's data file for this turret's canons, by canon index. */
  | { command: 'data_rows'; msg: DataRowsWire };

/** `hq` names the HQ process (a new one means an HQ restart: re-send what it did not acknowledge); `run` the run. */
export interface AckWire {
  hq: string;
  run: number;
  seqs: Record<string, number>;
}

/** More turrets than this in one ack is not an HQ talking. */
const MAX_ACKED_TURRETS = 100_000;

export interface DataRowsWire {
  /** The turret the rows are for; the others ignore the order. */
  uuid: string;
  rows: unknown[];
}

export type OrderCommand = Order['command'];

export const orders = {
  statusRequest: (): Order => ({ command: 'status_request', msg: null }),
  setTransactionContext: (context: Record<string, unknown>): Order => ({ command: 'set_transaction_context', msg: context }),
  start: (): Order => ({ command: 'start', msg: 'open fire' }),
  stop: (): Order => ({ command: 'stop', msg: 'premature stop' }),
  kill: (): Order => ({ command: 'kill', msg: null }),
  plan: (uuid: string, plan: TurretPlan): Order => ({ command: 'plan', msg: planToWire(uuid, plan) }),
  resultsStorage: (storage: ResultsStorage): Order => ({ command: 'results_storage', msg: storage }),
  ack: (hq: string, run: number, seqs: Record<string, number>): Order => ({ command: 'ack', msg: { hq, run, seqs } }),
  dataRows: (uuid: string, rows: unknown[]): Order => ({ command: 'data_rows', msg: { uuid, rows } }),
};

/** The broadcast frame: the empty channel, one space, then the JSON. */
export function encodeOrder(order: Order): string {
  return ` ${JSON.stringify(order)}`;
}

export type ParsedOrder = { ok: true; channel: string; order: Order } | { ok: false; channel: string; reason: string };

const COMMANDS = new Set<string>(['status_request', 'set_transaction_context', 'start', 'stop', 'kill', 'plan', 'results_storage', 'ack', 'data_rows']);

/**
 * Parses an order frame on the turret side. Unlike the original turret, a topic-prefixed frame
 * ("<uuid> {...}") is understood, and anything malformed is reported rather than fatal.
 */
export function parseOrder(frame: string | Buffer): ParsedOrder {
  const text = typeof frame === 'string' ? frame : frame.toString('utf8');
  const brace = text.indexOf('{');
  const channel = brace > 0 ? text.slice(0, brace).trim() : '';
  if (brace < 0) return { ok: false, channel, reason: 'no JSON object in order frame' };
  let value: unknown;
  try {
    value = JSON.parse(text.slice(brace));
  } catch (err) {
    return { ok: false, channel, reason: `order is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, channel, reason: 'order is not a JSON object' };
  const { command, msg } = value as { command?: unknown; msg?: unknown };
  if (typeof command !== 'string') return { ok: false, channel, reason: 'order has no "command"' };
  if (!COMMANDS.has(command)) return { ok: false, channel, reason: `unknown command "${command}"` };
  if (command === 'set_transaction_context') {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return { ok: false, channel, reason: 'set_transaction_context needs an object "msg"' };
    return { ok: true, channel, order: { command, msg: msg as Record<string, unknown> } };
  }
  if (command === 'plan') {
    const plan = parsePlanWire(msg);
    if (!plan.ok) return { ok: false, channel, reason: plan.reason };
    return { ok: true, channel, order: { command, msg: msg as PlanWire } };
  }
  if (command === 'data_rows') {
    const m = msg as Partial<DataRowsWire> | null;
    if (typeof m !== 'object' || m === null || typeof m.uuid !== 'string' || !Array.isArray(m.rows))
      return { ok: false, channel, reason: 'data_rows needs "msg": {"uuid": string, "rows": array}' };
    return { ok: true, channel, order: { command, msg: { uuid: m.uuid, rows: m.rows } } };
  }
  if (command === 'results_storage') {
    if (!RESULTS_STORAGE.includes(msg as ResultsStorage)) return { ok: false, channel, reason: `results_storage must be one of ${RESULTS_STORAGE.join(', ')}` };
    return { ok: true, channel, order: { command, msg: msg as ResultsStorage } };
  }
  if (command === 'ack') {
    const ack = parseAck(msg);
    if (typeof ack === 'string') return { ok: false, channel, reason: ack };
    return { ok: true, channel, order: { command, msg: ack } };
  }
  return { ok: true, channel, order: { command, msg: (msg ?? null) as never } as Order };
}

function parseAck(msg: unknown): AckWire | string {
  if (typeof msg !== 'object' || msg === null) return 'ack needs an object "msg"';
  const { hq, run, seqs } = msg as Record<string, unknown>;
  if (typeof hq !== 'string' || hq === '' || hq.length > 64) return 'ack: "hq" must be a string of 1 to 64 characters';
  if (typeof run !== 'number' || !Number.isSafeInteger(run) || run < 0) return 'ack: "run" must be a non-negative integer';
  if (typeof seqs !== 'object' || seqs === null || Array.isArray(seqs)) return 'ack: "seqs" must be an object';
  const entries = Object.entries(seqs);
  if (entries.length > MAX_ACKED_TURRETS) return `ack: more than ${MAX_ACKED_TURRETS} turrets`;
  for (const [, v] of entries) if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return 'ack: every seq must be a non-negative integer';
  return { hq, run, seqs: seqs as Record<string, number> };
}
