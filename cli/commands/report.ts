import type { CommandModule } from 'yargs';
import { loggerFromArgs } from '../logger-from-args.ts';
import { reportAction } from '../report-action.ts';
import { type VerdictArgs, verdictOptions, withVerdictOptions } from './verdict-options.ts';
import { reportFetchSubcommand } from './report-fetch.ts';

interface Args extends VerdictArgs {
  'database-url'?: string;
  run?: number;
  out: string;
  template?: string;
  verbose?: boolean | number;
}

export const reportCommand: CommandModule<object, Args> = {
  command: 'report',
  describe: 'Build results.html and summary.json for a stored run (what the Kubernetes report Job runs)',
  builder: (y) =>
    withVerdictOptions(y)
      .command(reportFetchSubcommand)
      .option('database-url', { type: 'string', describe: 'Postgres URL holding the results (default: OCT_DATABASE_URL)' })
      .option('run', { type: 'number', describe: 'Run id (default: the latest finished run; "oct runs" lists them)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Folder to write results.html and summary.json to' })
      .option('template', { type: 'string', describe: 'A project folder whose templates/report.html replaces the default template' })
      .example('$0 report --database-url postgres://oct@db/oct --out ./report', 'Report on the latest finished run')
      .example('$0 report --run 12 --out ./r12 --check-thresholds --junit r12.xml', 'Judge run 12 in CI (OCT_DATABASE_URL set)'),
  handler: async (args) => {
    process.exitCode = await reportAction({
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
