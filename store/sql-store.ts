// The Store, written once in SQL over a SqlDriver: the Postgres server and the embedded PGlite run
// exactly these statements. Parameters are passed as text (JSON strings, ISO dates, hex bytea) so
// both drivers serialise them the same way.
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { TurretState } from '../protocol/incoming.ts';
import { MIGRATIONS } from './schema.ts';
import { countRows, resultsCopyText, RESULTS_COPY_SQL } from './copy-text.ts';
import type { RunInfo, RunPatch, RunState, SqlDriver, StatusChange, Store, TurretRecord } from './types.ts';

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

export class SqlStore implements Store {
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
