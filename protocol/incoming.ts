// Everything that arrives on the HQ's PULL socket is parsed here, once, into a typed value. A status
// is told from a result by its keys (never by a substring of the raw text, as the original did).
// Nothing here throws: bad input becomes an `invalid` value with a kind the HQ counts.
import { type AggregateMessage, parseAggregate } from './aggregate.ts';
import { decodeBinaryBatch } from './binary-batch.ts';
import { type LoadReport, parseLoadReport } from './load-report.ts';
import { clockStepped, type ResultBatch, ResultBatchBuilder, type ResultLimits, resultTimesProblem, timerProblem } from './results.ts';

/** Every state a turret can be in, in the order they are reported. */
export const TURRET_STATES = ['ready', 'running', 'stopping', 'aborted', 'killed', 'lost', 'unknown'] as const;
export type TurretState = (typeof TURRET_STATES)[number];

/** Every state of a run, in order: shared by the store, the HQ and the reports. */
export const RUN_STATES = ['waiting', 'running', 'draining', 'finished', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface TurretHealth {
  /** Event-loop utilisation of the turret process, 0..1. */
  elu?: number;
  /** CPU use of the turret process, in cores (1 = one core saturated). */
  cpu?: number;
  /** Event-loop lag p99, milliseconds. */
  lagMs?: number;
}

export interface TurretStatus {
  uuid: string;
  name: string;
  /** The raw status text, as sent. */
  rawStatus: string;
  state: TurretState;
  canons: number | null;
  rampup: number | null;
  script: string | null;
  /** True for oct's own turret (it sends "oct": 1). */
  oct: boolean;
  /** oct turrets: the seq of the last result batch sent before this status. */
  lastSeq: number | null;
  /** oct turrets: the highest seq an HQ acknowledged (everything up to it is stored), else null. */
  acked: number | null;
  canonsRunning: number | null;
  /** oct turrets following a plan: its plan_id. */
  planId: number | null;
  health: TurretHealth | null;
  /** oct turrets: a message describing why the turret aborted. */
  reason: string | null;
  /** oct turrets: the most milliseconds between two of its statuses (100 … 60,000), else null. */
  heartbeatMs: number | null;
}

export type MalformedKind =
  | 'oversized'
  | 'not_json'
  | 'not_object'
  | 'unknown_message'
  | 'missing_field'
  | 'bad_field'
  | 'bad_binary'
  | 'bad_frames'
  | 'bad_aggregate'
  | 'series_cap'
  | 'out_of_range'
  | 'seq_out_of_window';

/** Every kind, in the order they are reported. */
export const MALFORMED_KINDS: MalformedKind[] = [
  'oversized',
  'not_json',
  'not_object',
  'unknown_message',
  'missing_field',
  'bad_field',
  'bad_binary',
  'bad_frames',
  'bad_aggregate',
  'series_cap',
  'out_of_range',
  'seq_out_of_window',
];

/**
 * Under CURVE, what an oct turret adds to every message's JSON (frame 1): its public key and the
 * proof that the holder of that key speaks for the message's uuid (protocol/curve-key.ts). Checked
 * by the HQ (hq/turret-identity.ts), never stored or re-published.
 */
export interface Credentials {
  key: string;
  proof: string;
}

type Parsed =
  | { kind: 'status'; status: TurretStatus }
  | { kind: 'results'; batch: ResultBatch }
  | { kind: 'load'; report: LoadReport }
  | { kind: 'aggregate'; message: AggregateMessage };

export type Incoming = (Parsed & { auth: Credentials | null }) | { kind: 'invalid'; malformed: MalformedKind; detail: string };

/** The uuid a parsed message speaks for (null: a legacy result, which names none). */
export function claimedUuid(m: Parsed): string | null {
  switch (m.kind) {
    case 'status':
      return m.status.uuid;
    case 'results':
      return m.batch.turretUuid;
    case 'load':
      return m.report.uuid;
    case 'aggregate':
      return m.message.uuid;
  }
}

// A Z85 key is 40 characters and a proof 43: anything much longer is not worth comparing.
function credentialsOf(o: Record<string, unknown>): Credentials | null {
  const { turret_key: key, proof } = o;
  if (typeof key !== 'string' || typeof proof !== 'string' || key.length > 64 || proof.length > 64) return null;
  return { key, proof };
}

const STATES: Record<string, TurretState> = {
  ready: 'ready',
  waiting: 'ready',
  running: 'running',
  stopping: 'stopping',
  aborted: 'aborted',
  killed: 'killed',
};

export function normaliseState(raw: string): TurretState {
  return STATES[raw.toLowerCase()] ?? 'unknown';
}

type Invalid = Extract<Incoming, { kind: 'invalid' }>;
type Outcome = Parsed | Invalid;

function invalid(malformed: MalformedKind, detail: string): Invalid {
  return { kind: 'invalid', malformed, detail };
}

function toNumberOrNull(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

// Out of range is not refused: the turret is still heard, only at the HQ's own silence timeout.
function boundedHeartbeat(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 100 && v <= 60_000 ? v : null;
}

function parseStatus(o: Record<string, unknown>): Outcome {
  if (typeof o.uuid !== 'string' || o.uuid === '') return invalid('bad_field', 'status: "uuid" must be a non-empty string');
  if (typeof o.status !== 'string') return invalid('bad_field', 'status: "status" must be a string');
  const health = typeof o.health === 'object' && o.health !== null ? (o.health as Record<string, unknown>) : null;
  return {
    kind: 'status',
    status: {
      uuid: o.uuid,
      name: typeof o.turret === 'string' ? o.turret : typeof o.turret === 'number' ? String(o.turret) : '',
      rawStatus: o.status,
      state: normaliseState(o.status),
      canons: toNumberOrNull(o.canons ?? o.cannons),
      rampup: toNumberOrNull(o.rampup),
      script: typeof o.script === 'string' ? o.script : null,
      oct: o.oct === 1,
      lastSeq: toNumberOrNull(o.seq),
      acked: typeof o.acked === 'number' && Number.isSafeInteger(o.acked) && o.acked >= 0 ? o.acked : null,
      canonsRunning: toNumberOrNull(o.canons_running),
      planId: toNumberOrNull(o.plan_id),
      health: health
        ? {
            elu: toNumberOrNull(health.elu) ?? undefined,
            cpu: toNumberOrNull(health.cpu) ?? undefined,
            lagMs: toNumberOrNull(health.lag_ms) ?? undefined,
          }
        : null,
      reason: typeof o.reason === 'string' ? o.reason : null,
      heartbeatMs: boundedHeartbeat(o.heartbeat_ms),
    },
  };
}

/**
 * Validates one result object and adds it to the builder; returns why it is refused, or null.
 * Types first, then ranges: a value of the wrong type is `bad_field` whatever else is wrong.
 */
function addResult(b: ResultBatchBuilder, r: unknown, where: string, limits: ResultLimits): Invalid | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return invalid('bad_field', `${where}: a result must be a JSON object`);
  const o = r as Record<string, unknown>;
  for (const key of ['elapsed', 'epoch', 'scriptrun_time'] as const) {
    if (!(key in o)) return invalid('missing_field', `${where}: missing "${key}"`);
    if (typeof o[key] !== 'number' || !Number.isFinite(o[key])) return invalid('bad_field', `${where}: "${key}" must be a finite number`);
  }
  let error: string | null = null;
  if (o.error !== undefined && o.error !== null && o.error !== '') {
    error = typeof o.error === 'string' ? o.error : JSON.stringify(o.error);
  }
  const timers: Record<string, number> = {};
  if (o.custom_timers !== undefined && o.custom_timers !== null) {
    if (typeof o.custom_timers !== 'object' || Array.isArray(o.custom_timers)) return invalid('bad_field', `${where}: "custom_timers" must be an object`);
    for (const [k, v] of Object.entries(o.custom_timers as Record<string, unknown>)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return invalid('bad_field', `${where}: custom timer "${k.slice(0, 64)}" must be a finite number`);
      timers[k] = v;
    }
  }
  const elapsed = o.elapsed as number;
  const epoch = o.epoch as number;
  const scriptrunTime = o.scriptrun_time as number;
  const range = resultTimesProblem(elapsed, epoch, scriptrunTime, limits) ?? firstTimerProblem(timers);
  if (range) return invalid('out_of_range', `${where}: ${range}`);
  for (const k in timers) timers[k] = clockStepped(timers[k]!);
  b.add({ elapsed: clockStepped(elapsed), epoch, scriptrunTime: clockStepped(scriptrunTime), error, customTimers: timers });
  return null;
}

function firstTimerProblem(timers: Record<string, number>): string | null {
  for (const k in timers) {
    const p = timerProblem(k, timers[k]!);
    if (p) return p;
  }
  return null;
}

// One result out of range refuses its whole batch, as a non-finite value always did in a binary
// batch: such a batch comes from a broken or forged sender, the rest of it is no more trustworthy;
// storing part of it would leave its rows out of step with the aggregates the turret sent for the
// same results (and with its seq, which says "all of it, once"); and one count per message keeps
// the malformed counter meaning "messages refused".
function parseJsonBatch(o: Record<string, unknown>, limits: ResultLimits): Outcome {
  if (!Array.isArray(o.results)) return invalid('missing_field', 'results batch: "results" must be an array');
  const b = new ResultBatchBuilder();
  for (let i = 0; i < o.results.length; i++) {
    const refused = addResult(b, o.results[i], `results batch [${i}]`, limits);
    if (refused) return refused;
  }
  return {
    kind: 'results',
    batch: b.build({
      turretUuid: typeof o.uuid === 'string' ? o.uuid : null,
      turretName: typeof o.turret === 'string' ? o.turret : null,
      seq: toNumberOrNull(o.seq),
    }),
  };
}

export interface ParseOptions extends ResultLimits {
  maxMessageBytes: number;
}

/** Parses one ZeroMQ message (all its frames) from the PULL socket. */
export function parseIncoming(frames: Buffer[], opts: ParseOptions): Incoming {
  let size = 0;
  for (const f of frames) size += f.length;
  if (size > opts.maxMessageBytes) return invalid('oversized', `message of ${size} bytes exceeds max_message_bytes (${opts.maxMessageBytes})`);
  if (frames.length === 0 || frames.length > 2) return invalid('bad_frames', `expected 1 or 2 frames, got ${frames.length}`);
  let value: unknown;
  try {
    value = JSON.parse(frames[0]!.toString('utf8'));
  } catch (err) {
    return invalid('not_json', `not valid JSON: ${(err as Error).message.slice(0, 120)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('not_object', 'message is not a JSON object');
  const o = value as Record<string, unknown>;
  const parsed = parseObject(o, frames, opts);
  return parsed.kind === 'invalid' ? parsed : { ...parsed, auth: credentialsOf(o) };
}

function parseObject(o: Record<string, unknown>, frames: Buffer[], opts: ParseOptions): Outcome {
  if (frames.length === 2) {
    if (o.oct !== 1 || o.type !== 'results') return invalid('bad_frames', 'a two-frame message must be an oct binary results batch');
    const decoded = decodeBinaryBatch(o, frames[1]!, opts);
    return decoded.ok ? { kind: 'results', batch: decoded.batch } : invalid(decoded.malformed, decoded.reason);
  }
  if (o.oct === 1 && o.type === 'results') return parseJsonBatch(o, opts);
  if (o.oct === 1 && o.type === 'aggregate') {
    const parsed = parseAggregate(o);
    return parsed.ok ? { kind: 'aggregate', message: parsed.message } : invalid('bad_aggregate', parsed.reason);
  }
  if (o.oct === 1 && o.type === 'load') {
    const parsed = parseLoadReport(o);
    return parsed.ok ? { kind: 'load', report: parsed.report } : invalid('bad_field', parsed.reason);
  }
  if ('status' in o && 'uuid' in o) return parseStatus(o);
  if ('elapsed' in o || 'scriptrun_time' in o || 'epoch' in o) {
    const b = new ResultBatchBuilder();
    const refused = addResult(b, o, 'result', opts);
    if (refused) return refused;
    return {
      kind: 'results',
      batch: b.build({ turretUuid: null, turretName: typeof o.turret_name === 'string' && o.turret_name !== '' ? o.turret_name : null, seq: null }),
    };
  }
  return invalid(
    'unknown_message',
    `neither a status (status + uuid) nor a result (elapsed, epoch, scriptrun_time); keys: ${Object.keys(o).slice(0, 8).join(', ')}`,
  );
}
