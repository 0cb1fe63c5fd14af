import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { CommandModule } from 'yargs';
import { writeResultsCsv } from '../../report/csv.ts';
import { ExitCode } from '../../common/exit-codes.ts';
import { loggerFromArgs } from '../logger-from-args.ts';
import { openResults, pickRun, SourceError } from '../results-source.ts';

interface Args {
  'results-dir'?: string;
  'database-url'?: string;
  run?: number;
  out?: string;
  delimiter: string;
  verbose?: boolean | number;
}

export const resultsToCsvCommand: CommandModule<object, Args> = {
  command: 'results-to-csv [results-dir]',
  describe: "Export a run's results as CSV (the original's columns, one per custom timer), streamed",
  builder: (y) =>
    y
      .positional('results-dir', { type: 'string', describe: 'A results folder of "oct run"' })
      .option('database-url', { type: 'string', describe: 'Read from a Postgres server instead (default: OCT_DATABASE_URL)' })
      .option('run', { type: 'number', describe: 'Run id (default: the latest finished run)' })
      .option('out', { type: 'string', describe: 'Output file (default: standard output)' })
      .option('delimiter', { type: 'string', default: ';', describe: 'Field delimiter' })
      .check((a) => {
        if (!a['results-dir'] && !a['database-url'] && !process.env.OCT_DATABASE_URL) return 'give RESULTS_DIR or --database-url';
        if (a.delimiter.length !== 1 || /["\r\n]/.test(a.delimiter)) return '--delimiter: one character, not a quote or line break';
        return true;
      })
      .example('$0 results-to-csv demo/results/results_2025.01.02_10.00.00 --out results.csv', 'CSV of a local run, ";"-separated')
      .example('$0 results-to-csv --database-url postgres://oct@db/oct --run 7 --delimiter , > r7.csv', 'Comma-separated, to stdout'),
  handler: async (args) => {
    const log = loggerFromArgs(args);
    let source: Awaited<ReturnType<typeof openResults>>;
    try {
      source = await openResults({ resultsDir: args['results-dir'], databaseUrl: args['database-url'], log });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      process.stderr.write(`oct: ${err.message}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    try {
      const run = await pickRun(source.store, args.run);
      const out = args.out ? createWriteStream(args.out) : process.stdout;
      const rows = await writeResultsCsv(source.store.sql, run.id, out, { delimiter: args.delimiter });
      if (args.out) {
        out.end();
        await finished(out);
        process.stderr.write(`${rows} results of run ${run.id} written to ${args.out}\n`);
      }
      process.exitCode = ExitCode.OK;
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      process.stderr.write(`oct: ${err.message}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
    } finally {
      await source.store.close();
    }
  },
};
