// The end of a run survives the store (issue 11): Postgres cut just before run_time ends and back
// 10 s later gives a finished run with stored = counted and a report; cut and never back leaves a
// recovery file that `oct recover` loads later, again with stored = counted. The real binary, a
// real Postgres behind a TCP relay that is cut and restored.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ExitCode } from '../../common/exit-codes.ts';
import { createLogger } from '../../common/log.ts';
import { openStore } from '../../store/open.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../support/postgres.ts';
import { oct, startOct } from '../support/processes.ts';
import { startTcpCut, type TcpCut } from '../support/tcp-cut.ts';
import { until } from '../support/until.ts';
import { workloadProject } from '../support/workload-project.ts';

const SCRIPT = `export class Transaction {
  customTimers = {};
  async run() { await new Promise((r) => setTimeout(r, 5)); }
}
`;
const RUN_TIME = 6;

let db: TestDatabase;
let relay: TcpCut;
before(async () => {
  db = await createTestDatabase();
  const u = new URL(db.url);
  relay = await startTcpCut({ host: u.hostname, port: Number(u.port) });
  // The schema, so the test can watch the runs table before the first HQ creates it.
  await (await openStore({ databaseUrl: db.url, log: createLogger() })).close();
});
after(async () => {
  await relay?.close();
  await db?.drop();
});

/** The database URL through the relay (what the HQ uses); the test itself reads `db.url` directly. */
function relayed(): string {
  const u = new URL(db.url);
  u.port = String(relay.port);
  return u.toString();
}

const query = <T>(sql: string, params: unknown[] = []) => queryDatabase<T>(db.url, sql, params);

interface RunRow {
  id: number;
  state: string;
  summary: { transactions: number; resultsInRecoveryFile: number } | null;
  started_at: Date | null;
}

async function newestRun(): Promise<RunRow | undefined> {
  return (await query<RunRow>('SELECT id, state, summary, started_at FROM runs ORDER BY id DESC LIMIT 1'))[0];
}

async function storedRows(runId: number): Promise<number> {
  return (await query<{ n: number }>('SELECT count(*)::int AS n FROM results WHERE run_id = $1', [runId]))[0]!.n;
}

/** Starts `oct run`, waits for the test to start, and cuts the store 1.5 s before run_time ends. */
async function runAndCutNearTheEnd(drainTimeout: number) {
  const p = await workloadProject(
    { run_time: RUN_TIME, drain_timeout: drainTimeout, turrets: [{ name: 'a', canons: 4, rampup: 0, script: 'v_user.ts' }] },
    SCRIPT,
  );
  const previous = (await newestRun())?.id ?? 0;
  const run = startOct(['run', p.dir, '--database-url', relayed(), '--results-dir', p.results, '--no-progress'], 120_000);
  let started: RunRow | undefined;
  await until(
    async () => {
      started = await newestRun();
      return !!started && started.id > previous && started.started_at !== null;
    },
    60_000,
    'the run to start',
  );
  const cutAt = started!.started_at!.getTime() + (RUN_TIME - 1.5) * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, cutAt - Date.now())));
  await relay.cut();
  return { p, run, runId: started!.id };
}

test('Postgres cut across the end of the run and back 10 s later: finished, stored = counted, report written', { timeout: 150_000 }, async () => {
  const { p, run, runId } = await runAndCutNearTheEnd(60);
  await new Promise((r) => setTimeout(r, 10_000));
  await relay.restore();
  const { code, out } = await run.done;
  assert.equal(code, ExitCode.OK, out);
  // The outage really spanned the end: the state change at the stop could not be written.
  assert.match(out, /could not record the draining state/);
  const row = (await query<RunRow>('SELECT id, state, summary, started_at FROM runs WHERE id = $1', [runId]))[0]!;
  assert.equal(row.state, 'finished', out);
  const stored = await storedRows(runId);
  assert.ok(stored > 100, `only ${stored} rows`);
  assert.equal(stored, row.summary!.transactions, 'stored = counted');
  assert.equal(row.summary!.resultsInRecoveryFile, 0);
  assert.equal(p.summary().totals.transactions, stored, 'the report counts what is stored');
  assert.ok(existsSync(join(p.results, 'results.html')), 'report written');
});

test('Postgres cut and never back: a recovery file that oct recover loads later, stored = counted', { timeout: 150_000 }, async () => {
  const { p, run, runId } = await runAndCutNearTheEnd(4);
  const { code, out } = await run.done;
  assert.equal(code, ExitCode.TEST_NOT_RUN, out);
  const file = /is in (\S+\.oct); load it with "oct recover/.exec(out)?.[1];
  assert.ok(file && existsSync(file), `no recovery file named in:\n${out}`);
  await relay.restore();
  const before = await storedRows(runId);
  const recovered = await oct(['recover', file, '--database-url', db.url], { timeoutMs: 60_000 });
  assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr);
  assert.match(recovered.stdout, new RegExp(`recovered .* into run ${runId} `));
  const row = (await query<RunRow>('SELECT id, state, summary, started_at FROM runs WHERE id = $1', [runId]))[0]!;
  assert.equal(row.state, 'finished');
  const stored = await storedRows(runId);
  assert.equal(stored, row.summary!.transactions, `stored = counted (${before} were stored before the cut)`);
  assert.equal(stored - before, row.summary!.resultsInRecoveryFile, 'the summary says how many came from the file');
  const rebuilt = await oct(['rebuild-results', '--database-url', db.url, '--run', String(runId), '--out', join(p.dir, 'rebuilt')], { timeoutMs: 60_000 });
  assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
  assert.ok(existsSync(join(p.dir, 'rebuilt', 'results.html')));
  const rebuiltSummary = JSON.parse(readFileSync(join(p.dir, 'rebuilt', 'summary.json'), 'utf8'));
  assert.equal(rebuiltSummary.totals.transactions, stored, 'the rebuilt report counts what is stored');
  assert.equal(rebuiltSummary.intake.resultsInRecoveryFile, stored - before);
});

test('oct recover with a file that is not a recovery file: exit 2 naming the file', async () => {
  const p = await workloadProject({ run_time: 1 }, SCRIPT);
  const r = await oct(['recover', join(p.dir, 'config.json'), '--database-url', db.url], { timeoutMs: 30_000 });
  assert.equal(r.code, ExitCode.INVALID_INPUT, r.stderr);
  assert.match(r.stderr, /config\.json: not an oct recovery file/);
});
