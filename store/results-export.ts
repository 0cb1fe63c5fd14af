// Every stored result of a run, for results-to-csv: read in slices of the table's pages, each
// query a range of ctids (a TID range scan), so memory stays at one slice whatever the run's size,
// on both backends, with no cursor or session needed. Rows come out in storage order, which is
// arrival order: the original's ORDER BY id.
import type { SqlDriver } from './types.ts';

const BLOCKS_PER_SLICE = 256;

export interface StoredResult {
  elapsed: number;
  epoch: number;
  turretName: string | null;
  scriptrunTime: number;
  error: string | null;
  customTimers: Record<string, unknown> | null;
}

/** The run's custom timer names in order of first appearance (by elapsed, then name). */
export async function timerNamesByFirstAppearance(sql: SqlDriver, runId: number): Promise<string[]> {
  const rows = await sql.query<{ k: string }>(
    `SELECT k FROM (SELECT jsonb_object_keys(custom_timers) AS k, elapsed FROM results WHERE run_id = $1 AND custom_timers IS NOT NULL) x
      GROUP BY k ORDER BY min(elapsed), k`,
    [runId],
  );
  return rows.map((r) => r.k);
}

/** The run's results, a non-empty slice at a time, in storage order. */
export async function* resultsInStorageOrder(sql: SqlDriver, runId: number): AsyncGenerator<StoredResult[]> {
  const [{ blocks } = { blocks: 0 }] = await sql.query<{ blocks: number }>(
    `SELECT (pg_relation_size('results') / current_setting('block_size')::int)::int AS blocks`,
  );
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
    yield slice.map((r) => ({
      elapsed: r.elapsed,
      epoch: r.epoch,
      turretName: r.turret_name,
      scriptrunTime: r.scriptrun_time,
      error: r.error,
      // jsonb as text where the driver leaves it unparsed.
      customTimers: typeof r.custom_timers === 'string' ? (JSON.parse(r.custom_timers) as Record<string, unknown>) : r.custom_timers,
    }));
  }
}
