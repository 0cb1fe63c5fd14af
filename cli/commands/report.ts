import type { CommandModule } from 'yargs';
import { loggerFromArgs } from '../logger-from-args.ts';
import { reportAction } from '../report-action.ts';
import { reportFetchSubcommand } from './report-fetch.ts';

interface Args {
  'database-url'?: string;
  run?: number;
  out: string;
  template?: string;
  'check-thresholds': boolean;
  exact: boolean;
  junit?: string;
  verbose?: boolean | number;
}

export const reportCommand: CommandModule<object, Args> = {
  command: 'report',
  describe: 'Build results.html and summary.json for a stored run (what the Kubernetes report Job runs)',
  builder: (y) =>
    y
      .command(reportFetchSubcommand)
      .option('database-url', { type: 'string', describe: 'Postgres URL holding the results (default: OCT_DATABASE_URL)' })
      .option('run', { type: 'number', describe: 'Run id (default: the latest finished run; "oct runs" lists them)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Folder to write results.html and summary.json to' })
      .option('template', { type: 'string', describe: 'A project folder whose templates/report.html replaces the default template' })
      .option('check-thresholds', { type: 'boolean', default: false, describe: 'Exit with code 4 when a threshold fails' })
      .option('junit', { type: 'string', describe: 'Also write the thresholds as a JUnit XML file' })
      .option('exact', {
        type: 'boolean',
        default: false,
        describe: 'Percentiles from every stored result (SQL, cost grows with results) instead of the histograms (within 0.4%)',
      })
      .example('$0 report --database-url postgres://oct@db/oct --out ./report', 'Report on the latest finished run')
      .example('$0 report --run 12 --out ./r12 --check-thresholds --junit r12.xml', 'Judge run 12 in CI (OCT_DATABASE_URL set)'),
  handler: async (args) => {
    process.exitCode = await reportAction({
      databaseUrl: args['database-url'],
      runId: args.run,
      outDir: args.out,
      projectDir: args.template,
      checkThresholds: args['check-thresholds'],
      exact: args.exact,
      junit: args.junit,
      log: loggerFromArgs(args),
      write: (s) => process.stdout.write(s),
    });
  },
};
