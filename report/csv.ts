// results-to-csv: the original's layout (elapsed, epoch, turret_name, scriptrun_time, error, then
// one column per custom timer in order of first appearance), streamed in slices of the table's
// pages: each query reads a range of ctids (a TID range scan), so memory stays at one slice
// whatever the run's size, on both backends, with no cursor or session needed. Rows come out in
// storage order, which is arrival order: the original's ORDER BY id.
import type { Writable } from 'node:stream';
import type { SqlDriver } from '../store/types.ts';

const BLOCKS_PER_SLICE = 256;

export function csvField(v: unknown, delimiter: string): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return s.includes(delimiter) || /["\r\n]/.test(s) || s.startsWith(' ') || s.endsWith(' ') ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function timerNames(sql: SqlDriver, runId: number): Promise<string[]> {
  const rows = await sql.query<{ k: string }>(
    `SELECT k FROM (SELECT jsonb_object_keys(custom_timers) AS k, elapsed FROM results WHERE run_id = $1 AND custom_timers IS NOT NULL) x
      GROUP BY k ORDER BY min(elapsed), k`,
    [runId],
  );
  return rows.map((r) => r.k);
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk))
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        out.off('drain', done);
        out.off('error', done);
        if (err) reject(err);
        else resolve();
      };
      out.once('drain', done);
      out.once('error', done);
    });
}

/** Writes the CSV to `out`; returns the number of data rows written. */
export async function writeResultsCsv(sql: SqlDriver, runId: number, out: Writable, opts: { delimiter?: string } = {}): Promise<number> {
  const d = opts.delimiter ?? ';';
  const timers = await timerNames(sql, runId);
  const header = ['elapsed', 'epoch', 'turret_name', 'scriptrun_time', 'error', ...timers];
  await write(out, `${header.map((h) => csvField(h, d)).join(d)}\n`);
  const [{ blocks } = { blocks: 0 }] = await sql.query<{ blocks: number }>(
    `SELECT (pg_relation_size('results') / current_setting('block_size')::int)::int AS blocks`,
  );
  let rows = 0;
  for (let from = 0; from < Number(blocks); from += BLOCKS_PER_SLICE) {
    const slice = await sql.query<{
      elapsed: number;
      epoch: number;
      turret_name: string | null;
      scriptrun_time: number;
      error: string | null;
      custom_timers: Record<string, unknown> | string | null;
    }>(
      `SELECT elapsed, epoch, turret_name, scriptrun_time, error, custom_timers FROM results
        WHERE ctid >= $2::tid AND ctid < $3::tid AND run_id = $1`,
      [runId, `(${from},0)`, `(${from + BLOCKS_PER_SLICE},0)`],
    );
    if (!slice.length) continue;
    const lines: string[] = [];
    for (const r of slice) {
      const ct = typeof r.custom_timers === 'string' ? (JSON.parse(r.custom_timers) as Record<string, unknown>) : r.custom_timers;
      const cells = [r.elapsed, r.epoch, r.turret_name, r.scriptrun_time, r.error, ...timers.map((t) => ct?.[t])];
      lines.push(cells.map((c) => csvField(c, d)).join(d));
    }
    rows += slice.length;
    await write(out, `${lines.join('\n')}\n`);
  }
  return rows;
}
