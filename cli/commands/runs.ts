import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { resultCountsByRun } from '../../store/report-queries.ts';
import { loggerFromArgs } from '../logger-from-args.ts';
import { openResults, SourceError } from '../results-source.ts';

interface Args {
  'results-dir'?: string;
  'database-url'?: string;
  json: boolean;
  verbose?: boolean | number;
}

const when = (d: Date | null) =>
  d
    ? d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '-';

export const runsCommand: CommandModule<object, Args> = {
  command: 'runs [results-dir]',
  describe: 'List the runs stored in a results folder or a Postgres database',
  builder: (y) =>
    y
      .positional('results-dir', { type: 'string', describe: 'A results folder of "oct run"' })
      .option('database-url', { type: 'string', describe: 'A Postgres server (default: OCT_DATABASE_URL)' })
      .option('json', { type: 'boolean', default: false, describe: 'One JSON array instead of a table' })
      .check((a) => {
        if (!a['results-dir'] && !a['database-url'] && !process.env.OCT_DATABASE_URL) return 'give RESULTS_DIR or --database-url';
        return true;
      })
      .example('$0 runs --database-url postgres://oct@db/oct', 'Runs on a Postgres server, newest last')
      .example('$0 runs demo/results/results_2025.01.02_10.00.00 --json', 'As JSON'),
  handler: async (args) => {
    let source: Awaited<ReturnType<typeof openResults>>;
    try {
      source = await openResults({ resultsDir: args['results-dir'], databaseUrl: args['database-url'], log: loggerFromArgs(args) });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      process.stderr.write(`oct: ${err.message}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    try {
      const runs = (await source.store.listRuns()).sort((a, b) => a.id - b.id);
      const counts = await resultCountsByRun(source.store.sql);
      if (args.json) {
        const out = runs.map((r) => ({
          id: r.id,
          name: r.name,
          state: r.state,
          createdAt: r.createdAt,
          startedAt: r.startedAt,
          endedAt: r.endedAt,
          results: counts.get(r.id)?.results ?? 0,
          errors: counts.get(r.id)?.errors ?? 0,
          error: r.error,
        }));
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else if (!runs.length) {
        process.stdout.write(`no runs in ${source.store.location}\n`);
      } else {
        const rows = runs.map((r) => [
          String(r.id),
          r.name,
          r.state,
          when(r.startedAt),
          when(r.endedAt),
          String(counts.get(r.id)?.results ?? 0),
          String(counts.get(r.id)?.errors ?? 0),
        ]);
        const head = ['id', 'name', 'state', 'started', 'ended', 'results', 'errors'];
        const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        for (const r of [head, ...rows])
          process.stdout.write(
            `${r
              .map((c, i) => (i === 0 || i >= 5 ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
              .join('  ')
              .trimEnd()}\n`,
          );
      }
      process.exitCode = ExitCode.OK;
    } finally {
      await source.store.close();
    }
  },
};
