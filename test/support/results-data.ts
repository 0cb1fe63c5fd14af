// Helpers for report tests and the report benchmark: a minimal SqlDriver over `pg` with the schema
// applied, and a fast way to put generated results into a run (COPY, as the HQ's writer does).
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { MIGRATIONS } from '../../store/schema.ts';
import type { SqlDriver } from '../../store/types.ts';

export async function pgDriver(url: string, opts: { migrate?: boolean } = {}): Promise<SqlDriver> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  if (opts.migrate ?? true) for (const m of MIGRATIONS) await pool.query(m);
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<T[]> {
      const r = (await pool.query(sql, params as unknown[])) as pg.QueryResult | pg.QueryResult[];
      // Several statements in one text: the last one's rows, as the store's drivers do.
      return (Array.isArray(r) ? r[r.length - 1]!.rows : r.rows) as T[];
    },
    async copyFrom(sql: string, text: string): Promise<void> {
      const client = await pool.connect();
      try {
        await new Promise<void>((resolve, reject) => {
          const stream = client.query(copyStreams.from(sql));
          stream.on('error', reject);
          stream.on('finish', resolve);
          stream.end(text);
        });
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

export interface GenResult {
  turretUuid: string | null;
  turretName: string | null;
  elapsed: number;
  epoch: number;
  scriptrunTime: number;
  error: string | null;
  customTimers: Record<string, number> | null;
}

function copyText(v: string | null): string {
  if (v === null) return '\\N';
  return v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export function resultsCopyText(runId: number, rows: Iterable<GenResult>): string {
  const out: string[] = [];
  for (const r of rows) {
    out.push(
      [
        String(runId),
        copyText(r.turretUuid),
        copyText(r.turretName),
        String(r.elapsed),
        String(r.epoch),
        String(r.scriptrunTime),
        copyText(r.error),
        copyText(r.customTimers ? JSON.stringify(r.customTimers) : null),
      ].join('\t'),
    );
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export const RESULTS_COPY = 'COPY results (run_id, turret_uuid, turret_name, elapsed, epoch, scriptrun_time, error, custom_timers) FROM STDIN';

export async function insertResults(sql: SqlDriver, runId: number, rows: GenResult[]): Promise<void> {
  const chunk = 50_000;
  for (let i = 0; i < rows.length; i += chunk) {
    const text = resultsCopyText(runId, rows.slice(i, i + chunk));
    if (text) await sql.copyFrom(RESULTS_COPY, text);
  }
}

/** Inserts a run row directly (the store's createRun may not be what the test runs against). */
export async function insertRun(sql: SqlDriver, input: { name?: string; state?: string; config: unknown; startedAt?: Date; endedAt?: Date }): Promise<number> {
  const rows = await sql.query<{ id: number }>(
    `INSERT INTO runs (name, state, config, started_at, ended_at) VALUES ($1, $2, $3, $4, $5) RETURNING id::int AS id`,
    [input.name ?? 'test', input.state ?? 'finished', JSON.stringify(input.config), input.startedAt ?? null, input.endedAt ?? null],
  );
  return rows[0]!.id;
}
