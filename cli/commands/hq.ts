import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { loggerFromArgs } from '../logger-from-args.ts';
import { loadProject } from '../../common/project.ts';

interface Args {
  config: string;
  'database-url'?: string;
  'run-name': string;
  'http-port'?: number;
  'work-dir': string;
  'exit-when-done': boolean;
  verbose?: boolean | number;
}

export const hqCommand: CommandModule<object, Args> = {
  command: 'hq',
  describe: 'Run the HQ alone, waiting for remote turrets (what the Kubernetes HQ pod runs)',
  builder: (y) =>
    y
      .option('config', { type: 'string', demandOption: true, describe: "The project's config.json" })
      .option('database-url', { type: 'string', describe: 'Postgres URL (default: OCT_DATABASE_URL, results_database.db_uri, else embedded in --work-dir)' })
      .option('run-name', {
        type: 'string',
        default: process.env.OCT_RUN_NAME ?? 'oct',
        describe: 'One test per run name: a restarted HQ resumes or reports it, never repeats it (env OCT_RUN_NAME)',
      })
      .option('http-port', { type: 'number', describe: 'Override http_port' })
      .option('work-dir', { type: 'string', default: join(tmpdir(), 'oct-hq'), describe: 'Spill files, the embedded database and the report copy' })
      .option('exit-when-done', { type: 'boolean', default: false, describe: 'Exit after the run instead of serving its report until stopped' })
      .example('OCT_DATABASE_URL=postgres://… $0 hq --config /etc/oct/config.json --run-name load-1', 'The HQ of a Kubernetes release'),
  handler: async (args) => {
    const port = args['http-port'];
    const project = loadProject(args.config, port === undefined ? {} : { http_port: port }, port === undefined ? [] : [`--http-port ${port}`]);
    const { runHq } = await import('../hq.ts');
    process.exitCode = await runHq({
      project,
      runName: args['run-name'],
      databaseUrl: args['database-url'] ?? process.env.OCT_DATABASE_URL ?? project.config.results_database.db_uri,
      workDir: args['work-dir'],
      exitWhenDone: args['exit-when-done'],
      log: loggerFromArgs(args, project.config.console_logging),
      out: process.stdout,
    });
  },
};
