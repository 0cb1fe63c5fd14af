// The Store, written once in SQL over a SqlDriver: the Postgres server and the embedded PGlite run
// exactly these statements. Parameters are passed as text (JSON strings, ISO dates, hex bytea) so
// both drivers serialise them the same way.
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { TurretState } from '../protocol/incoming.ts';
import { MIGRATIONS } from './schema.ts';
import { countRows, resultsCopyText, RESULTS_COPY_SQL, storableText } from './copy-text.ts';
import { decodeBuckets, encodeBuckets } from './histogram-bytes.ts';
import type {
  AggregateRow,
  DeliveredSeq,
  ControlAction,
  ErrorCountRow,
  ResultsCopy,
  RunInfo,
  RunPatch,
  RunState,
  SqlDriver,
  StatusChange,
  Store,
  TurretRecord,
} from './types.ts';

/** One connection used alone, for work that needs session state (advisory lock, transaction). */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** What both drivers give the SQL store beyond the shared SqlDriver contract. */
export interface SessionDriver extends SqlDriver {
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
}

// Any constant works as long as every oct process uses the same one: it serialises migrations.
const MIGRATION_LOCK_KEY = 0x6f6374; // "oct"

interface RunRow {
  id: number;
  name: string;
  state: string;
  config: unknown;
  hq_id: string | null;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  error: string | null;
  summary: unknown;
}

function toRun(r: RunRow): RunInfo {
  return {
    id: Number(r.id),
    name: r.name,
    state: r.state as RunState,
    config: r.config,
    hqId: r.hq_id,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    error: r.error,
    summary: r.summary,
  };
}

function json(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

// Aggregates go in as one JSON text per table, expanded by json_to_recordset: 15-20% faster here
// than unnest over per-column array literals, on PGlite and on Postgres (10k-row writes, run
// interleaved). COPY is faster still (≈1.5x on PGlite, ≈2x on Postgres) but takes a statement
// per table, each on its own connection, and a write must be one transaction: one statement is,
// on either driver, without holding a session (the CTE's insert runs whether or not the outer
// query reads it). json_to_recordset keeps array order, and seq is assigned in it.
const WRITE_AGGREGATES_SQL = `
  WITH a AS (
    INSERT INTO aggregates (run_id, second, turret_uuid, turret_name, series, n, errors, vmin, vmax, vmean, m2, buckets, counters)
    SELECT $1, s, u, t, series, n, e, vmin, vmax, vmean, m2, decode(h, 'hex'), c
    FROM json_to_recordset($2::text::json)
      AS r(s integer, u text, t text, series text, n bigint, e bigint, vmin float8, vmax float8, vmean float8, m2 float8, h text, c jsonb)
  ), d AS (
    INSERT INTO delivered (run_id, turret_uuid, seq)
    SELECT $1, u, s FROM json_to_recordset($4::text::json) AS r(u text, s bigint)
  )
  INSERT INTO error_counts (run_id, second, turret_uuid, turret_name, message, count)
  SELECT $1, s, u, t, m, c FROM json_to_recordset($3::text::json) AS r(s integer, u text, t text, m text, c bigint)`;

/** The record of stored messages that ends a results COPY, in its transaction ($1 run, $2 JSON). */
export const WRITE_DELIVERED_SQL = `
  INSERT INTO delivered (run_id, turret_uuid, seq)
  SELECT $1, u, s FROM json_to_recordset($2::text::json) AS r(u text, s bigint)`;

export function deliveredJson(delivered: readonly DeliveredSeq[]): string {
  let out = '[';
  for (let i = 0; i < delivered.length; i++) out += `${i ? ',' : ''}{"u":${jsonText(delivered[i]!.uuid)},"s":${delivered[i]!.seq}}`;
  return `${out}]`;
}

/** A JSON string, made storable (NUL and lone surrogates would fail the whole write). */
const jsonText = (s: string | null) => (s === null ? 'null' : JSON.stringify(storableText(s)));
// JSON has no NaN or ±Infinity, and String(-0) is "0": as strings, float8's input reads them all.
const jsonFloat = (x: number) => (Object.is(x, -0) ? '-0' : Number.isFinite(x) ? String(x) : `"${x}"`);

function aggregatesJson(rows: readonly AggregateRow[]): string {
  let out = '[';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const h = r.hist;
    out += `${i ? ',' : ''}{"s":${r.second},"u":${jsonText(r.turretUuid)},"t":${jsonText(r.turretName)},"series":${jsonText(r.series)},"n":${h.n},"e":${r.errors},"vmin":${jsonFloat(h.min)},"vmax":${jsonFloat(h.max)},"vmean":${jsonFloat(h.mean)},"m2":${jsonFloat(h.m2)},"h":"${encodeBuckets(h.b).toString('hex')}"${r.counters ? `,"c":${JSON.stringify(r.counters)}` : ''}}`;
  }
  return `${out}]`;
}

function errorCountsJson(errors: readonly ErrorCountRow[]): string {
  let out = '[';
  for (let i = 0; i < errors.length; i++) {
    const e = errors[i]!;
    out += `${i ? ',' : ''}{"s":${e.second},"u":${jsonText(e.turretUuid)},"t":${jsonText(e.turretName)},"m":${jsonText(e.message)},"c":${e.count}}`;
  }
  return `${out}]`;
}

// Reads come back a page at a time, each column aggregated into one text: PGlite parses every
// field of every result row in JavaScript (≈2 µs each), so 200k rows of 11 fields took 8-11 s as
// rows and 2-3 s as columns; on Postgres both take 1-2 s, bound by the hex transfer. Pages keep
// each text far below Postgres' 1 GB and V8's 512 MB string limits, even for full 3328-bucket
// histograms, unless one second alone holds tens of thousands of rows.
//
// A page is a range of seconds holding about READ_PAGE_ROWS rows, found from the per-second
// counts first: keyset pages (ORDER BY ... LIMIT) were planned, before the table's first ANALYZE,
// as a sort of the whole rest of the run for every page. The aggregates have no ORDER BY (each
// would sort again): they take the same rows in the same order, so their elements line up, and
// readPages puts the rows in (second, seq) order. All pages are read in one snapshot.
const READ_PAGE_ROWS = 5_000;
const inRange = (table: string) => `FROM ${table} WHERE run_id = $1 AND second BETWEEN $2 AND $3`;
const READ_AGGREGATES_SQL = `
  SELECT string_agg(concat_ws(',', second, seq, n, errors, vmin, vmax, vmean, m2, octet_length(buckets)), ',') AS nums,
         json_agg(turret_uuid)::text AS uuids, json_agg(turret_name)::text AS names, json_agg(series)::text AS series,
         encode(string_agg(buckets, ''::bytea), 'hex') AS buckets, json_agg(counters)::text AS counters
  ${inRange('aggregates')}`;
const READ_ERROR_COUNTS_SQL = `
  SELECT string_agg(concat_ws(',', second, seq, count), ',') AS nums,
         json_agg(turret_uuid)::text AS uuids, json_agg(turret_name)::text AS names, json_agg(message)::text AS messages
  ${inRange('error_counts')}`;
const secondCountsSql = (table: string) =>
  `SELECT string_agg(second || ',' || n, ',' ORDER BY second) AS counts FROM (SELECT second, count(*) AS n FROM ${table} WHERE run_id = $1 GROUP BY second) c`;

/** float8 prints each value so that it reads back exactly; JSON.parse is the fastest reader, but has no NaN or Infinity. */
function parseNumbers(text: string): number[] {
  return /[IN]/.test(text) ? text.split(',').map(Number) : (JSON.parse(`[${text}]`) as number[]);
}

/** Ranges of seconds, [first, last], of about `rows` rows each (one second is never split), from "second,count,..." text. */
function secondRanges(counts: string | null | undefined, rows: number): [number, number][] {
  if (!counts) return [];
  const c = parseNumbers(counts);
  const ranges: [number, number][] = [];
  let first = c[0]!;
  let held = 0;
  for (let k = 0; k < c.length; k += 2) {
    if (held && held + c[k + 1]! > rows) {
      ranges.push([first, c[k - 2]!]);
      first = c[k]!;
      held = 0;
    }
    held += c[k + 1]!;
  }
  ranges.push([first, c[c.length - 2]!]);
  return ranges;
}

/**
 * Reads a table of a run page by page (see above). Each page's `nums` holds `width` numbers a
 * row, (second, seq, ...) first; `take` turns the page into rows, which come out in (second, seq) order.
 */
async function readPages<P extends { nums: string | null }, R>(
  session: SqlSession,
  table: string,
  query: string,
  runId: number,
  width: number,
  take: (page: P, nums: number[]) => R[],
): Promise<R[]> {
  const out: R[] = [];
  const [counts] = await session.query<{ counts: string | null }>(secondCountsSql(table), [runId]);
  for (const [first, last] of secondRanges(counts?.counts, READ_PAGE_ROWS)) {
    const [page] = await session.query<P>(query, [runId, first, last]);
    if (!page?.nums) continue;
    const nums = parseNumbers(page.nums);
    const rows = take(page, nums);
    const order = rows.map((_, i) => i * width).sort((x, y) => nums[x]! - nums[y]! || nums[x + 1]! - nums[y + 1]!);
    for (const k of order) out.push(rows[k / width]!);
  }
  return out;
}

interface AggregatePage {
  nums: string | null;
  uuids: string;
  names: string;
  series: string;
  buckets: string;
  counters: string;
}

interface ErrorCountPage {
  nums: string | null;
  uuids: string;
  names: string;
  messages: string;
}

export abstract class SqlStore implements Store {
  constructor(
    readonly kind: 'postgres' | 'embedded',
    readonly location: string,
    readonly sql: SessionDriver,
    protected readonly log: Logger,
  ) {}

  async migrate(): Promise<void> {
    await this.sql.withSession(async (s) => {
      // Session-level lock: two HQs starting at once against one server apply each migration once.
      await s.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      try {
        await s.query('CREATE TABLE IF NOT EXISTS oct_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
        const done = new Set((await s.query<{ version: number }>('SELECT version FROM oct_schema_migrations')).map((r) => Number(r.version)));
        for (let i = 0; i < MIGRATIONS.length; i++) {
          const version = i + 1;
          if (done.has(version)) continue;
          await s.query('BEGIN');
          try {
            await s.query(MIGRATIONS[i]!);
            await s.query('INSERT INTO oct_schema_migrations (version) VALUES ($1)', [version]);
            await s.query('COMMIT');
          } catch (err) {
            await s.query('ROLLBACK').catch(() => undefined);
            throw new Error(`migration ${version} failed on ${this.location}: ${(err as Error).message}`, { cause: err });
          }
          this.log.info('applied migration', { version, location: this.location });
        }
      } finally {
        await s.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
      }
    });
  }

  async createRun(input: { name: string; config: unknown; hqId: string | null }): Promise<RunInfo> {
    const rows = await this.sql.query<RunRow>(`INSERT INTO runs (name, state, config, hq_id) VALUES ($1, 'waiting', $2::text::jsonb, $3) RETURNING *`, [
      input.name,
      json(input.config),
      input.hqId,
    ]);
    return toRun(rows[0]!);
  }

  async getRun(id: number): Promise<RunInfo | null> {
    const rows = await this.sql.query<RunRow>('SELECT * FROM runs WHERE id = $1', [id]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async listRuns(): Promise<RunInfo[]> {
    return (await this.sql.query<RunRow>('SELECT * FROM runs ORDER BY id')).map(toRun);
  }

  async findUnfinishedRun(name: string): Promise<RunInfo | null> {
    const rows = await this.sql.query<RunRow>(`SELECT * FROM runs WHERE name = $1 AND state NOT IN ('finished', 'failed') ORDER BY id DESC LIMIT 1`, [name]);
    return rows[0] ? toRun(rows[0]) : null;
  }

  async updateRun(id: number, patch: RunPatch): Promise<void> {
    const sets: string[] = [];
    const params: unknown[] = [];
    const add = (col: string, value: unknown, cast = '') => {
      params.push(value);
      sets.push(`${col} = $${params.length}${cast}`);
    };
    if (patch.state !== undefined) add('state', patch.state);
    if (patch.startedAt !== undefined) add('started_at', patch.startedAt.toISOString(), '::timestamptz');
    if (patch.endedAt !== undefined) add('ended_at', patch.endedAt.toISOString(), '::timestamptz');
    if (patch.error !== undefined) add('error', patch.error);
    if (patch.summary !== undefined) add('summary', json(patch.summary), '::text::jsonb');
    if (!sets.length) return;
    params.push(id);
    const rows = await this.sql.query(`UPDATE runs SET ${sets.join(', ')} WHERE id = $${params.length} RETURNING id`, params);
    if (!rows.length) throw new Error(`updateRun: no run with id ${id} in ${this.location}`);
  }

  async writeResults(runId: number, batches: ResultBatch[]): Promise<number> {
    const rows = countRows(batches);
    if (!rows) return 0;
    await this.sql.copyFrom(RESULTS_COPY_SQL, resultsCopyText(runId, batches));
    return rows;
  }

  /** Each backend feeds a COPY its own way (a stream on Postgres, the worker on PGlite). */
  abstract openResultsCopy(runId: number): Promise<ResultsCopy>;

  async writeAggregates(runId: number, rows: AggregateRow[], errors: ErrorCountRow[], delivered: DeliveredSeq[] = []): Promise<void> {
    if (!rows.length && !errors.length && !delivered.length) return;
    await this.sql.query(WRITE_AGGREGATES_SQL, [runId, aggregatesJson(rows), errorCountsJson(errors), deliveredJson(delivered)]);
  }

  async readDelivered(runId: number): Promise<DeliveredSeq[]> {
    const rows = await this.sql.query<{ u: string; s: string | number }>('SELECT turret_uuid AS u, seq AS s FROM delivered WHERE run_id = $1', [runId]);
    return rows.map((r) => ({ uuid: r.u, seq: Number(r.s) }));
  }

  async readAggregates(runId: number): Promise<{ rows: AggregateRow[]; errors: ErrorCountRow[] }> {
    return this.sql.withSession(async (session) => {
      // One snapshot for every page of both tables, so a write committing meanwhile is all in or all out.
      await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const result = await this.readAggregatesIn(session, runId);
        await session.query('COMMIT');
        return result;
      } catch (err) {
        await session.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private async readAggregatesIn(session: SqlSession, runId: number): Promise<{ rows: AggregateRow[]; errors: ErrorCountRow[] }> {
    const rows = await readPages<AggregatePage, AggregateRow>(session, 'aggregates', READ_AGGREGATES_SQL, runId, 9, (page, nums) => {
      const uuids = JSON.parse(page.uuids) as (string | null)[];
      const names = JSON.parse(page.names) as (string | null)[];
      const series = JSON.parse(page.series) as string[];
      const counters = JSON.parse(page.counters) as (Record<string, number> | null)[];
      const bytes = Buffer.from(page.buckets, 'hex');
      const out: AggregateRow[] = new Array(series.length);
      let off = 0;
      for (let i = 0, k = 0; i < series.length; i++, k += 9) {
        const b = decodeBuckets(bytes.subarray(off, (off += nums[k + 8]!)));
        const hist = { n: nums[k + 2]!, min: nums[k + 4]!, max: nums[k + 5]!, mean: nums[k + 6]!, m2: nums[k + 7]!, b };
        out[i] = { second: nums[k]!, turretUuid: uuids[i]!, turretName: names[i]!, series: series[i]!, errors: nums[k + 3]!, hist };
        if (counters[i]) out[i]!.counters = counters[i]!;
      }
      return out;
    });
    const errors = await readPages<ErrorCountPage, ErrorCountRow>(session, 'error_counts', READ_ERROR_COUNTS_SQL, runId, 3, (page, nums) => {
      const uuids = JSON.parse(page.uuids) as (string | null)[];
      const names = JSON.parse(page.names) as (string | null)[];
      const messages = JSON.parse(page.messages) as string[];
      return messages.map((message, i) => ({ second: nums[i * 3]!, turretUuid: uuids[i]!, turretName: names[i]!, message, count: nums[i * 3 + 2]! }));
    });
    return { rows, errors };
  }

  async upsertTurret(runId: number, t: TurretRecord): Promise<void> {
    // first_seen keeps the earliest sighting; everything else is the latest word.
    await this.sql.query(
      `INSERT INTO turrets (run_id, uuid, name, canons, rampup, script, status, first_seen, last_seen)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9::timestamptz)
       ON CONFLICT (run_id, uuid) DO UPDATE SET
         name = EXCLUDED.name, canons = EXCLUDED.canons, rampup = EXCLUDED.rampup, script = EXCLUDED.script,
         status = EXCLUDED.status, first_seen = LEAST(turrets.first_seen, EXCLUDED.first_seen),
         last_seen = GREATEST(turrets.last_seen, EXCLUDED.last_seen)`,
      [runId, t.uuid, t.name, t.canons, t.rampup, t.script, t.state, t.firstSeen.toISOString(), t.lastSeen.toISOString()],
    );
  }

  /** Turrets of a run, oldest first (a convenience for the HQ and tests; the report may use SQL). */
  async listTurrets(runId: number): Promise<TurretRecord[]> {
    const rows = await this.sql.query<{
      uuid: string;
      name: string;
      canons: number | null;
      rampup: number | null;
      script: string | null;
      status: string;
      first_seen: Date;
      last_seen: Date;
    }>('SELECT * FROM turrets WHERE run_id = $1 ORDER BY first_seen, uuid', [runId]);
    return rows.map((r) => ({
      uuid: r.uuid,
      name: r.name,
      canons: r.canons,
      rampup: r.rampup,
      script: r.script,
      state: r.status as TurretState,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
    }));
  }

  async recordStatusChange(runId: number, c: StatusChange): Promise<void> {
    await this.sql.query(
      `INSERT INTO turret_status_changes (run_id, uuid, name, status, raw_status, reason, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz)`,
      [runId, c.uuid, c.name, c.state, c.rawStatus, c.reason, c.at.toISOString()],
    );
  }

  async recordControlAction(runId: number, a: ControlAction): Promise<void> {
    await this.sql.query(
      `INSERT INTO control_actions (run_id, at, elapsed, action, by_whom, origin, detail)
       VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7::jsonb)`,
      [runId, a.at.toISOString(), a.elapsed, a.action, a.by, a.origin, JSON.stringify(a.detail)],
    );
  }

  async listControlActions(runId: number): Promise<ControlAction[]> {
    const rows = await this.sql.query<{ at: Date | string; elapsed: number; action: string; by_whom: string; origin: string; detail: unknown }>(
      'SELECT at, elapsed, action, by_whom, origin, detail FROM control_actions WHERE run_id = $1 ORDER BY seq',
      [runId],
    );
    return rows.map((r) => ({
      at: new Date(r.at),
      elapsed: Number(r.elapsed),
      action: r.action as ControlAction['action'],
      by: r.by_whom,
      origin: r.origin,
      detail: (typeof r.detail === 'string' ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
    }));
  }

  async saveArtifact(runId: number, name: string, content: Buffer): Promise<void> {
    // Hex text: both drivers pass it through unchanged, and both parse it fast.
    await this.sql.query(
      `INSERT INTO artifacts (run_id, name, content) VALUES ($1, $2, decode($3, 'hex'))
       ON CONFLICT (run_id, name) DO UPDATE SET content = EXCLUDED.content, created_at = now()`,
      [runId, name, content.toString('hex')],
    );
  }

  async getArtifact(runId: number, name: string): Promise<Buffer | null> {
    const rows = await this.sql.query<{ hex: string }>(`SELECT encode(content, 'hex') AS hex FROM artifacts WHERE run_id = $1 AND name = $2`, [runId, name]);
    return rows[0] ? Buffer.from(rows[0].hex, 'hex') : null;
  }

  async close(): Promise<void> {
    await this.sql.close();
  }
}
