// results-to-csv: the original's layout (elapsed, epoch, turret_name, scriptrun_time, error, then
// one column per custom timer in order of first appearance), streamed a slice of stored results at
// a time (store/results-export.ts), in arrival order.
import type { Writable } from 'node:stream';
import { resultsInStorageOrder, timerNamesByFirstAppearance } from '../store/results-export.ts';
import type { SqlDriver } from '../store/types.ts';

export function csvField(v: unknown, delimiter: string): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : String(v);
  return s.includes(delimiter) || /["\r\n]/.test(s) || s.startsWith(' ') || s.endsWith(' ') ? `"${s.replace(/"/g, '""')}"` : s;
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
  const timers = await timerNamesByFirstAppearance(sql, runId);
  const header = ['elapsed', 'epoch', 'turret_name', 'scriptrun_time', 'error', ...timers];
  await write(out, `${header.map((h) => csvField(h, d)).join(d)}\n`);
  let rows = 0;
  for await (const slice of resultsInStorageOrder(sql, runId)) {
    const lines: string[] = [];
    for (const r of slice) {
      const cells = [r.elapsed, r.epoch, r.turretName, r.scriptrunTime, r.error, ...timers.map((t) => r.customTimers?.[t])];
      lines.push(cells.map((c) => csvField(c, d)).join(d));
    }
    rows += slice.length;
    await write(out, `${lines.join('\n')}\n`);
  }
  return rows;
}
