// The small reads of a run that the exact report and the run listing make, beside the latency
// passes (latency-passes.ts): errors by message, turrets and their status changes with times as
// Unix seconds (to the microsecond, which a Date would cut to the millisecond), results per run.
import { analyticQuery } from './analytic-query.ts';
import type { SqlDriver } from './types.ts';

export interface ErrorGroupRow {
  message: string;
  count: number;
  firstElapsed: number;
  lastElapsed: number;
  /** Distinct turrets that had it (by uuid, else name). */
  turrets: number;
  /** Distinct messages of the run, including those past the limit (the same on every row). */
  distinctMessages: number;
}

/** The run's error messages, most frequent first (then by message), at most `limit` of them. */
export async function errorGroups(sql: SqlDriver, runId: number, limit: number): Promise<ErrorGroupRow[]> {
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`errorGroups: limit must be a whole number, got ${limit}`);
  // The distinct count comes with the groups (a window over them), not from another scan.
  const rows = await analyticQuery<{ message: string; n: number; first: number; last: number; turrets: number; distinct_n: number }>(
    sql,
    `SELECT message, n, first, last, turrets, count(*) OVER ()::float8 AS distinct_n
       FROM (SELECT error AS message, count(*)::float8 AS n, min(elapsed) AS first, max(elapsed) AS last,
                    count(DISTINCT coalesce(turret_uuid, turret_name, ''))::float8 AS turrets
               FROM results WHERE run_id = $1 AND error IS NOT NULL GROUP BY error) e
      ORDER BY n DESC, message LIMIT ${limit}`,
    [runId],
  );
  return rows.map((r) => ({
    message: r.message,
    count: Number(r.n),
    firstElapsed: Number(r.first),
    lastElapsed: Number(r.last),
    turrets: Number(r.turrets),
    distinctMessages: Number(r.distinct_n),
  }));
}

export interface TurretTimesRow {
  uuid: string;
  name: string;
  canons: number | null;
  rampup: number | null;
  script: string | null;
  status: string;
  /** Unix time, seconds. */
  firstSeen: number;
  lastSeen: number;
}

const orNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** The run's turrets, by first seen, then name. */
export async function turretsWithTimes(sql: SqlDriver, runId: number): Promise<TurretTimesRow[]> {
  const rows = await sql.query<Omit<TurretTimesRow, 'firstSeen' | 'lastSeen'> & { first_seen: number; last_seen: number }>(
    `SELECT uuid, name, canons, rampup, script, status,
            extract(epoch FROM first_seen)::float8 AS first_seen, extract(epoch FROM last_seen)::float8 AS last_seen
       FROM turrets WHERE run_id = $1 ORDER BY first_seen, name`,
    [runId],
  );
  return rows.map((t) => ({
    uuid: t.uuid,
    name: t.name,
    canons: orNull(t.canons),
    rampup: orNull(t.rampup),
    script: t.script,
    status: t.status,
    firstSeen: Number(t.first_seen),
    lastSeen: Number(t.last_seen),
  }));
}

export interface StatusChangeTimesRow {
  uuid: string;
  name: string;
  status: string;
  rawStatus: string;
  reason: string | null;
  /** Unix time, seconds. */
  at: number;
}

/** The run's turret status changes, in time order. */
export async function statusChangesWithTimes(sql: SqlDriver, runId: number): Promise<StatusChangeTimesRow[]> {
  const rows = await sql.query<{ uuid: string; name: string; status: string; raw_status: string; reason: string | null; at: number }>(
    `SELECT uuid, name, status, raw_status, reason, extract(epoch FROM at)::float8 AS at
       FROM turret_status_changes WHERE run_id = $1 ORDER BY at, uuid`,
    [runId],
  );
  return rows.map((c) => ({ uuid: c.uuid, name: c.name, status: c.status, rawStatus: c.raw_status, reason: c.reason, at: Number(c.at) }));
}

/** Stored results and failed ones, per run id; a run without stored results is absent. */
export async function resultCountsByRun(sql: SqlDriver): Promise<Map<number, { results: number; errors: number }>> {
  const rows = await sql.query<{ run_id: number; n: number; errors: number }>(
    `SELECT run_id::float8 AS run_id, count(*)::float8 AS n, count(error)::float8 AS errors FROM results GROUP BY run_id`,
  );
  return new Map(rows.map((r) => [Number(r.run_id), { results: Number(r.n), errors: Number(r.errors) }]));
}
