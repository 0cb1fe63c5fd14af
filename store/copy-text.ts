// Builds the COPY text-format payload for the results table from columnar batches. Pure and
// synchronous: the Postgres backend runs it on the caller's thread, the embedded backend inside its
// worker. Every value is made storable here, because one row Postgres rejects would fail the whole
// COPY and the writer would retry it forever.
import type { ResultBatch } from '../protocol/results.ts';

export const RESULTS_COPY_SQL = 'COPY results (run_id, turret_uuid, turret_name, elapsed, epoch, scriptrun_time, error, custom_timers) FROM STDIN';

const NEEDS_ESCAPE = /[\\\t\n\r]/;
const NEEDS_ESCAPE_G = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

// Postgres text cannot hold NUL, and jsonb rejects \u0000 and lone surrogates: both become U+FFFD.
const UNSTORABLE = /[\u0000\ud800-\udfff]/;

/** Replaces what Postgres text/jsonb cannot hold (NUL, lone surrogates) with U+FFFD. */
export function storableText(s: string): string {
  if (!UNSTORABLE.test(s)) return s;
  return (s as string & { toWellFormed(): string }).toWellFormed().replace(/\u0000/g, '\ufffd');
}

/** Escapes one value for COPY text format (not NULL: that is `\N`, written by the caller). */
export function escapeCopyText(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(NEEDS_ESCAPE_G, (c) => ESCAPES[c]!) : s;
}

function copyValue(s: string | null): string {
  return s === null ? '\\N' : escapeCopyText(storableText(s));
}

/**
 * COPY text for the batches' rows, in pieces of about `pieceRows` rows, so a caller can stream
 * them: Postgres parses one piece while the next is built, and the event loop gets a turn between
 * pieces. NaN timer values mean "not set" and are left out; a row with no timer set stores NULL.
 * Non-finite timer values (±Infinity) have no JSON form and are left out too.
 */
export function* resultsCopyPieces(runId: number, batches: readonly ResultBatch[], pieceRows = 2_000): Generator<string> {
  let out = '';
  let rows = 0;
  const run = String(runId);
  for (const b of batches) {
    const prefix = `${run}\t${copyValue(b.turretUuid)}\t${copyValue(b.turretName)}\t`;
    const errors = b.errors.map((e) => copyValue(e));
    // Keys are JSON-quoted then COPY-escaped once per batch, not per row.
    const keys = b.timerNames.map((n) => escapeCopyText(`${JSON.stringify(storableText(n))}:`));
    const nTimers = keys.length;
    for (let i = 0; i < b.count; i++) {
      const e = b.errorIndex[i]!;
      let timers = '\\N';
      if (nTimers) {
        let json = '';
        for (let k = 0; k < nTimers; k++) {
          const v = b.timers[k]![i]!;
          if (!Number.isFinite(v)) continue;
          json += (json ? ',' : '{') + keys[k] + v;
        }
        if (json) timers = `${json}}`;
      }
      out += `${prefix}${b.elapsed[i]}\t${b.epoch[i]}\t${b.scriptrunTime[i]}\t${e < 0 ? '\\N' : (errors[e] ?? '\\N')}\t${timers}\n`;
      if (++rows >= pieceRows) {
        yield out;
        out = '';
        rows = 0;
      }
    }
  }
  if (out) yield out;
}

/** The whole COPY text at once (see resultsCopyPieces). */
export function resultsCopyText(runId: number, batches: readonly ResultBatch[]): string {
  let text = '';
  for (const piece of resultsCopyPieces(runId, batches, Infinity)) text += piece;
  return text;
}

/** Total rows of the batches. */
export function countRows(batches: readonly ResultBatch[]): number {
  let n = 0;
  for (const b of batches) n += b.count;
  return n;
}

/** COPY in binary format: no number formatting here, no float parsing in the server. */
export const RESULTS_COPY_BINARY_SQL = `${RESULTS_COPY_SQL} (FORMAT binary)`;
/** Signature, flags (0) and header extension length (0). */
export const COPY_BINARY_HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
/** The file trailer: a field count of -1. */
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const utf8 = (s: string | null) => (s === null ? null : Buffer.from(storableText(s), 'utf8'));

/**
 * The batches' rows in COPY binary format (rows only: a stream starts with COPY_BINARY_HEADER
 * and ends with COPY_BINARY_TRAILER). Stores the same values as resultsCopyPieces: texts made
 * storable, NaN and ±Infinity timer values left out, a row with no timer set stores NULL.
 */
export function resultsCopyBinary(runId: number, batches: readonly ResultBatch[]): Buffer {
  let buf = Buffer.allocUnsafe(Math.max(1024, countRows(batches) * 96));
  let dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  const ensure = (n: number) => {
    if (off + n <= buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, off + n));
    buf.copy(bigger, 0, 0, off);
    buf = bigger;
    dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  };
  const putBytes = (b: Buffer | null) => {
    if (b === null) {
      dv.setInt32(off, -1);
      off += 4;
      return;
    }
    dv.setInt32(off, b.length);
    b.copy(buf, off + 4);
    off += 4 + b.length;
  };
  const runHi = Math.floor(runId / 2 ** 32);
  const runLo = runId >>> 0;
  for (const b of batches) {
    const uuid = utf8(b.turretUuid);
    const name = utf8(b.turretName);
    const errors = b.errors.map(utf8);
    const keys = b.timerNames.map((n) => `${JSON.stringify(storableText(n))}:`);
    const nTimers = keys.length;
    const fixed = 2 + 12 + 8 + (uuid?.length ?? 0) + (name?.length ?? 0) + 36 + 4 + 4;
    for (let i = 0; i < b.count; i++) {
      const e = b.errorIndex[i]!;
      const err = e < 0 ? null : (errors[e] ?? null);
      ensure(fixed + (err?.length ?? 0));
      dv.setInt16(off, 8);
      dv.setInt32(off + 2, 8);
      dv.setInt32(off + 6, runHi);
      dv.setUint32(off + 10, runLo);
      off += 14;
      putBytes(uuid);
      putBytes(name);
      dv.setInt32(off, 8);
      dv.setFloat64(off + 4, b.elapsed[i]!);
      dv.setInt32(off + 12, 8);
      dv.setFloat64(off + 16, b.epoch[i]!);
      dv.setInt32(off + 24, 8);
      dv.setFloat64(off + 28, b.scriptrunTime[i]!);
      off += 36;
      putBytes(err);
      let json = '';
      for (let k = 0; k < nTimers; k++) {
        const v = b.timers[k]![i]!;
        if (!Number.isFinite(v)) continue;
        json += (json ? ',' : '{') + keys[k] + v;
      }
      if (!json) {
        dv.setInt32(off, -1);
        off += 4;
      } else {
        json += '}';
        ensure(4 + 1 + json.length * 3);
        // jsonb's binary form: a version byte (1), then the JSON text.
        buf[off + 4] = 1;
        const n = buf.write(json, off + 5, 'utf8');
        dv.setInt32(off, n + 1);
        off += 5 + n;
      }
    }
  }
  return buf.subarray(0, off);
}
