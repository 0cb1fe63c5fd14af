// `oct check SCRIPT`: the non-distributed mode (Loads' local runner): the script runs in this
// process with the turret's own canon loop for a few iterations, each result printed. No HQ, no
// database: a smoke test before a real run.
import { systemClock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ResultRow } from '../protocol/results.ts';
import { buildTransaction, runCanon } from '../turret/canon.ts';
import { Http1Connector } from '../turret/http1-client.ts';
import { ScriptLoadError, loadTransactionClass } from '../turret/script-loader.ts';
import { ExitCode } from '../common/exit-codes.ts';

export interface CheckOptions {
  script: string;
  iterations: number;
  canons: number;
  context: Record<string, unknown>;
  log: Logger;
  out: NodeJS.WritableStream;
}

function describe(row: ResultRow): string {
  const timers = Object.entries(row.customTimers).map(([k, v]) => `${k}=${(v * 1000).toFixed(1)}ms`);
  return `${(row.scriptrunTime * 1000).toFixed(1).padStart(9)} ms  ${row.error === null ? 'ok   ' : 'ERROR'}  ${timers.join(' ')}${row.error === null ? '' : `  ${row.error}`}`;
}

export async function checkScript(opts: CheckOptions): Promise<number> {
  const { out } = opts;
  let Transaction: Awaited<ReturnType<typeof loadTransactionClass>>;
  try {
    Transaction = await loadTransactionClass(opts.script);
  } catch (err) {
    if (!(err instanceof ScriptLoadError)) throw err;
    out.write(`oct check: ${err.message}\n`);
    return ExitCode.TEST_NOT_RUN;
  }
  // The turret's own client, each canon its own connections, as in a run.
  const connector = new Http1Connector();
  const rows: ResultRow[] = [];
  const startedAt = systemClock.monotonic();
  // Each canon claims an iteration before starting it, so N canons run exactly --iterations.
  let claimed = 0;
  const record = (row: ResultRow) => {
    rows.push(row);
    out.write(`#${String(rows.length).padEnd(4)}${describe(row)}\n`);
  };
  try {
    const canons = Array.from({ length: opts.canons }, (_, index) => {
      const deps = {
        index,
        Transaction,
        turret: { name: 'check', uuid: 'check' },
        data: opts.context,
        transport: () => connector.session(),
        clock: systemClock,
        log: opts.log,
        startedAt,
        record,
        stopRequested: () => claimed++ >= opts.iterations,
        waitForRoom: async () => {},
      };
      try {
        return { deps, tx: buildTransaction(deps) };
      } catch (err) {
        out.write(`oct check: ${(err as Error).message}\n`);
        return null;
      }
    });
    if (canons.some((c) => c === null)) return ExitCode.TEST_NOT_RUN;
    await Promise.all(canons.map((c) => runCanon(c!.deps, c!.tx)));
  } finally {
    connector.close();
  }
  const errors = rows.filter((r) => r.error !== null).length;
  const times = rows.map((r) => r.scriptrunTime).sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / (times.length || 1);
  out.write(`\n${rows.length} iterations, ${errors} errors, run() mean ${(mean * 1000).toFixed(1)} ms, max ${((times.at(-1) ?? 0) * 1000).toFixed(1)} ms\n`);
  return errors > 0 ? ExitCode.THRESHOLDS_FAILED : ExitCode.OK;
}
