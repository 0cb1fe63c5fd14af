// oct's binary results batch: a two-frame ZeroMQ message. Frame 1 is a JSON header, frame 2 holds
// little-endian float64 columns, so any language can write it and the HQ reads it without parsing
// each result. Layout documented in docs/protocol.md.
import { type ResultBatch, type ResultLimits, resultTimesProblem, timerProblem } from './results.ts';

export interface BinaryBatchHeader {
  oct: 1;
  type: 'results';
  encoding: 'f64le-columns';
  uuid: string;
  turret: string;
  seq: number;
  count: number;
  timers: string[];
  errors: string[];
  /** True when the sender also counted these results in aggregate messages: the HQ must not count them again. */
  aggregated?: boolean;
}

const FIXED_COLUMNS = 4; // elapsed, epoch, scriptrun_time, error index

export function encodeBinaryBatch(batch: ResultBatch, meta: { uuid: string; turret: string; seq: number; aggregated?: boolean }): [string, Buffer] {
  const n = batch.count;
  const cols = FIXED_COLUMNS + batch.timerNames.length;
  const data = new Float64Array(n * cols);
  data.set(batch.elapsed.subarray(0, n), 0);
  data.set(batch.epoch.subarray(0, n), n);
  data.set(batch.scriptrunTime.subarray(0, n), 2 * n);
  for (let i = 0; i < n; i++) data[3 * n + i] = batch.errorIndex[i]!;
  batch.timers.forEach((col, k) => data.set(col.subarray(0, n), (FIXED_COLUMNS + k) * n));
  const header: BinaryBatchHeader = {
    oct: 1,
    type: 'results',
    encoding: 'f64le-columns',
    uuid: meta.uuid,
    turret: meta.turret,
    seq: meta.seq,
    count: n,
    timers: batch.timerNames,
    errors: batch.errors,
    ...(meta.aggregated ? { aggregated: true } : {}),
  };
  const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // Float64Array is host-endian; every platform Node supports in practice is little-endian.
  return [JSON.stringify(header), payload];
}

export type DecodedBatch = { ok: true; batch: ResultBatch } | { ok: false; malformed: 'bad_binary' | 'out_of_range'; reason: string };

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

const bad = (reason: string): DecodedBatch => ({ ok: false, malformed: 'bad_binary', reason });

export function decodeBinaryBatch(header: Record<string, unknown>, payload: Buffer, limits: ResultLimits = {}): DecodedBatch {
  if (header.encoding !== 'f64le-columns') return bad(`unknown encoding ${JSON.stringify(header.encoding)}`);
  const count = header.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return bad('"count" must be a non-negative integer');
  if (!isStringArray(header.timers)) return bad('"timers" must be an array of strings');
  if (!isStringArray(header.errors)) return bad('"errors" must be an array of strings');
  if (typeof header.uuid !== 'string' || header.uuid === '') return bad('"uuid" must be a non-empty string');
  if (typeof header.seq !== 'number' || !Number.isInteger(header.seq)) return bad('"seq" must be an integer');
  const cols = FIXED_COLUMNS + header.timers.length;
  const expected = count * cols * 8;
  if (payload.length !== expected) return bad(`payload is ${payload.length} bytes, expected ${expected} (${count} results × ${cols} columns × 8)`);
  // A Float64Array view needs 8-byte alignment; ZeroMQ buffers usually have it, copy when not.
  const aligned = payload.byteOffset % 8 === 0 ? payload : Buffer.from(payload);
  const data = new Float64Array(aligned.buffer, aligned.byteOffset, count * cols);
  const errorIndex = new Int32Array(count);
  const nErrors = header.errors.length;
  for (let i = 0; i < count; i++) {
    const e = data[3 * count + i]!;
    if (!(e === -1 || (Number.isInteger(e) && e >= 0 && e < nErrors))) return bad(`result ${i}: error index ${e} out of range`);
    errorIndex[i] = e;
  }
  for (let i = 0; i < 3 * count; i++) {
    if (!Number.isFinite(data[i]!)) return bad(`result ${i % count}: non-finite time value`);
  }
  // One value out of range refuses the whole batch, as a non-finite one does (why: parseJsonBatch).
  for (let i = 0; i < count; i++) {
    const problem = resultTimesProblem(data[i]!, data[count + i]!, data[2 * count + i]!, limits);
    if (problem) return { ok: false, malformed: 'out_of_range', reason: `result ${i}: ${problem}` };
  }
  for (let k = 0; k < header.timers.length; k++) {
    const at = (FIXED_COLUMNS + k) * count;
    for (let i = 0; i < count; i++) {
      const v = data[at + i]!;
      // NaN is a timer not set; ±Infinity is no time, as in the fixed columns.
      if (v === Infinity || v === -Infinity) return bad(`result ${i}: non-finite timer value`);
      const problem = Number.isNaN(v) ? null : timerProblem(header.timers[k]!, v);
      if (problem) return { ok: false, malformed: 'out_of_range', reason: `result ${i}: ${problem}` };
    }
  }
  // Every value is in range now: a clock step below 0 becomes 0 in the time columns (not the epoch, not the error index).
  const stepped = (from: number, to: number) => {
    for (let i = from; i < to; i++) if (data[i]! < 0) data[i] = 0;
  };
  stepped(0, count);
  stepped(2 * count, 3 * count);
  stepped(FIXED_COLUMNS * count, cols * count);
  return {
    ok: true,
    batch: {
      turretUuid: header.uuid,
      turretName: typeof header.turret === 'string' ? header.turret : null,
      seq: header.seq,
      preAggregated: header.aggregated === true,
      count,
      elapsed: data.subarray(0, count),
      epoch: data.subarray(count, 2 * count),
      scriptrunTime: data.subarray(2 * count, 3 * count),
      errorIndex,
      errors: header.errors,
      timerNames: header.timers,
      timers: header.timers.map((_, k) => data.subarray((FIXED_COLUMNS + k) * count, (FIXED_COLUMNS + k + 1) * count)),
    },
  };
}
