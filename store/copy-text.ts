// Builds the COPY text-format payload for the results table from columnar batches. Pure and
// synchronous: the Postgres backend runs it on the caller's thread, the embedded backend inside its
// worker. Every value is made storable here, because one row Postgres rejects would fail the whole
// COPY and the writer would retry it forever.
import type { ResultBatch } from '../protocol/results.ts';

export const RESULTS_COPY_SQL =
  'COPY results (run_id, turret_uuid, turret_name, elapsed, epoch, scriptrun_time, error, custom_timers) FROM STDIN';

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
    const keys = b.timerNames.map((n) => escapeCopyText(JSON.stringify(storableText(n)) + ':'));
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
        if (json) timers = json + '}';
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
