// Runs an analytic query (the report's statistics) with settings fit for one big scan: JIT off (on
// 1M rows Postgres spent 1.5–3 s compiling each query, more than executing it) and work_mem of
// 128MB, so the hash aggregates and the sorts of candidate points stay in memory. With `hashOnly`,
// sorts are disabled too: grouping by computed buckets, the planner guesses ~1 group per row and
// picks a sort of every row (5–6 s at 1M rows) over a hash aggregate of a few thousand groups
// (~0.6 s). SqlDriver has no sessions, but both backends run a parameterless text as one implicit
// transaction and return the last statement's rows; so the settings go first as transaction-local
// set_config(…, true) calls, and the parameters are inlined as literals.
import type { SqlDriver } from './types.ts';

const SETTINGS = `SELECT set_config('jit', 'off', true), set_config('work_mem', '128MB', true);\n`;
const HASH_ONLY = `SELECT set_config('jit', 'off', true), set_config('work_mem', '128MB', true), set_config('enable_sort', 'off', true);\n`;

export function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot inline ${v} as a SQL literal`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') {
    if (v.includes('\u0000')) throw new Error('cannot inline a NUL character');
    // standard_conforming_strings is on in every supported Postgres: only quotes need doubling.
    return `'${v.replace(/'/g, "''")}'`;
  }
  if (Array.isArray(v)) return v.length ? `ARRAY[${v.map(sqlLiteral).join(', ')}]` : `'{}'`;
  throw new Error(`cannot inline a ${typeof v} as a SQL literal`);
}

/** Replaces $1…$n by literals; the analytic queries have no other `$` (no dollar quoting). */
export function inlineParams(sql: string, params: unknown[]): string {
  return sql.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) throw new Error(`no parameter $${n}`);
    return `(${sqlLiteral(params[i])})`;
  });
}

export function analyticQuery<T>(sql: SqlDriver, text: string, params: unknown[], opts: { hashOnly?: boolean } = {}): Promise<T[]> {
  return sql.query<T>((opts.hashOnly ? HASH_ONLY : SETTINGS) + inlineParams(text, params));
}
