import type { CommandModule } from 'yargs';
import { loggerFromArgs } from '../logger-from-args.ts';
import { reportAction } from '../report-action.ts';
import { type VerdictArgs, verdictOptions, withVerdictOptions } from './verdict-options.ts';

interface Args extends VerdictArgs {
  'results-dir'?: string;
  'database-url'?: string;
  run?: number;
  out?: string;
  template?: string;
  verbose?: boolean | number;
}

export const rebuildResultsCommand: CommandModule<object, Args> = {
  command: 'rebuild-results [results-dir]',
  describe: 'Regenerate results.html and summary.json from stored results, from any working directory',
  builder: (y) =>
    withVerdictOptions(y)
      .positional('results-dir', { type: 'string', describe: 'A results folder of "oct run" (its database in RESULTS_DIR/db, its config.json)' })
      .option('database-url', { type: 'string', describe: 'Read from a Postgres server instead (default: OCT_DATABASE_URL)' })
      .option('run', { type: 'number', describe: 'Run id (default: the latest finished run)' })
      .option('out', { type: 'string', describe: 'Write here instead of RESULTS_DIR' })
      .option('template', { type: 'string', describe: "A project folder whose templates/report.html to use (default: the results folder's project)" })
      .check((a) => {
        if (!a['results-dir'] && !a['database-url'] && !process.env.OCT_DATABASE_URL) return 'give RESULTS_DIR or --database-url';
        if (!a['results-dir'] && !a.out) return 'with --database-url, say where to write: --out DIR';
        return true;
      })
      .example('$0 rebuild-results demo/results/results_2025.01.02_10.00.00', 'Rebuild the report of a local run')
      .example('$0 rebuild-results --database-url postgres://oct@db/oct --run 7 --out ./r7', 'Rebuild run 7 from a Postgres server'),
  handler: async (args) => {
    process.exitCode = await reportAction({
      resultsDir: args['results-dir'],
      databaseUrl: args['database-url'],
      runId: args.run,
      outDir: args.out,
      projectDir: args.template,
      ...verdictOptions(args),
      log: loggerFromArgs(args),
      write: (s) => process.stdout.write(s),
    });
  },
};
