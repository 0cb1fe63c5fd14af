import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { readRecoveryFile, RecoveryFileError, recoverRun } from '../../store/recovery-file.ts';
import { loggerFromArgs } from '../logger-from-args.ts';
import { openResults, SourceError } from '../results-source.ts';

interface Args {
  file: string;
  'results-dir'?: string;
  'database-url'?: string;
  verbose?: boolean | number;
}

export const recoverCommand: CommandModule<object, Args> = {
  command: 'recover <file> [results-dir]',
  describe: 'Load a recovery file (left by an HQ whose store never came back) into a database, then rebuild-results makes its report',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'The recovery-run<ID>-<time>.oct file the HQ named' })
      .positional('results-dir', { type: 'string', describe: 'A results folder of "oct run" (its embedded database)' })
      .option('database-url', { type: 'string', describe: 'A Postgres server (default: OCT_DATABASE_URL)' })
      .check((a) => {
        if (!a['results-dir'] && !a['database-url'] && !process.env.OCT_DATABASE_URL) return 'give RESULTS_DIR or --database-url';
        return true;
      })
      .example('$0 recover results/recovery-run7-1767000000000.oct --database-url postgres://oct@db/oct', 'Put run 7 back into its database'),
  handler: async (args) => {
    const log = loggerFromArgs(args);
    let file: Awaited<ReturnType<typeof readRecoveryFile>>;
    let source: Awaited<ReturnType<typeof openResults>>;
    try {
      file = await readRecoveryFile(args.file);
      source = await openResults({ resultsDir: args['results-dir'], databaseUrl: args['database-url'], log });
    } catch (err) {
      if (!(err instanceof SourceError || err instanceof RecoveryFileError)) throw err;
      process.stderr.write(`oct: ${err.message}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    try {
      const done = await recoverRun(source.store, file, log);
      const where = done.sameRun ? `run ${done.runId}` : `new run ${done.runId} (run ${file.content.run.id} is not in this database)`;
      process.stdout.write(
        `recovered ${file.content.run.name} into ${where} of ${source.store.location}: ${done.rows} results, ${done.aggregateRows} aggregate rows, state ${file.content.final.state}\n` +
          (file.content.uncertainRows
            ? `note: the first ${file.content.uncertainRows} results were in a COPY still running when the HQ gave up; if it committed, they are now stored twice\n`
            : '') +
          `build its report with: oct rebuild-results ${args['results-dir'] ?? `--database-url URL --out DIR`} --run ${done.runId}\n`,
      );
    } finally {
      await source.store.close();
    }
  },
};
