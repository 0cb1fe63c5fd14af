import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { loggerFromArgs } from '../logger-from-args.ts';
import { loadProject } from '../../common/project.ts';

interface Args {
  project: string;
  'run-time'?: string;
  'database-url'?: string;
  'hq-only': boolean;
  'publish-port'?: string;
  'rc-port'?: string;
  'http-port'?: string;
  'min-turrets'?: string;
  'results-dir'?: string;
  junit?: string;
  baseline?: string;
  progress: boolean;
  verbose?: boolean | number;
}

export const runCommand: CommandModule<object, Args> = {
  command: 'run <project>',
  describe: "Run a test: the HQ plus the config's turrets as local processes, results in PROJECT/results/",
  builder: (y) =>
    y
      .positional('project', { type: 'string', demandOption: true, describe: 'Project folder (or its config.json)' })
      .option('run-time', { type: 'string', describe: 'Override run_time (seconds)' })
      .option('database-url', {
        type: 'string',
        describe: 'Postgres URL for results (default: OCT_DATABASE_URL, results_database.db_uri, else an embedded database in the results folder)',
      })
      .option('hq-only', { type: 'boolean', default: false, describe: 'Start no local turret: bind on all interfaces and wait for remote turrets' })
      .option('publish-port', { type: 'string', describe: 'Override publish_port (0 = any free port)' })
      .option('rc-port', { type: 'string', describe: 'Override rc_port (0 = any free port)' })
      .option('http-port', { type: 'string', describe: 'Override http_port for /metrics, /healthz, /status (0 = any free port)' })
      .option('min-turrets', { type: 'string', describe: 'Override min_turrets' })
      .option('results-dir', { type: 'string', describe: 'Write results here instead of PROJECT/results/results_<timestamp>' })
      .option('junit', { type: 'string', describe: 'Write the thresholds as a JUnit XML file' })
      .option('baseline', {
        type: 'string',
        describe:
          'Compare with this run in the report, and judge relative thresholds ("p95": "<+10%") against it: a results folder, or a run id or name in the database',
      })
      .option('progress', { type: 'boolean', default: true, describe: 'Show the live progress line (--no-progress to hide)' })
      .example('$0 run demo', 'Run the demo project with its own turrets on this machine')
      .example('$0 run demo --run-time 10 --junit results.xml', 'A 10 s run that CI can judge by exit code and JUnit')
      .example('$0 run demo --baseline demo/results/results_2025.01.02_10.00.00', 'Fail (exit 4) if p95 regressed beyond a relative threshold')
      .example('$0 run demo --hq-only', 'Wait for turrets started elsewhere with "oct turret"'),
  handler: async (args) => {
    // Flags become config keys before the config is validated: `--run-time -5` is refused as
    // run_time would be, naming the flag as typed (yargs' own number parsing would turn "abc" into
    // NaN before anyone could say which text was wrong).
    const overrides: Record<string, unknown> = {};
    const flags: string[] = [];
    const flag = (name: keyof Args, key: string) => {
      const text = args[name];
      if (typeof text !== 'string') return;
      overrides[key] = text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
      flags.push(`--${name} ${text}`);
    };
    flag('run-time', 'run_time');
    flag('publish-port', 'publish_port');
    flag('rc-port', 'rc_port');
    flag('http-port', 'http_port');
    flag('min-turrets', 'min_turrets');
    const project = loadProject(args.project, overrides, flags);
    const c = project.config;
    // Locally oct starts every turret itself, so the test waits for all of them to start together.
    // One local process per replica of each entry, as a Deployment would run that many pods.
    const local = c.turrets.reduce((n, t) => n + t.replicas, 0);
    if (args['min-turrets'] === undefined && !args['hq-only']) c.min_turrets = Math.max(c.min_turrets, local);
    // More than this run starts can never connect: say so now, not after turrets_wait_timeout.
    if (!args['hq-only'] && c.turrets.length > 0 && c.min_turrets > local) {
      process.stderr.write(
        `oct: ${project.configPath}: min_turrets: ${c.min_turrets}, but oct run starts ${local} local turret${local === 1 ? '' : 's'} (one per replica of each entry of "turrets"); lower min_turrets, or use --hq-only and start the others with "oct turret"\n`,
      );
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    if (!args['hq-only'] && c.turrets.length === 0) {
      process.stderr.write(`oct: ${project.configPath}: turrets: no turret to start (add one, or use --hq-only)\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    // Loaded only when this command runs: `oct turret` and `oct --help` must not pay for the HQ.
    const { runProject } = await import('../run.ts');
    process.exitCode = await runProject({
      project,
      log: loggerFromArgs(args, c.console_logging),
      databaseUrl: args['database-url'] ?? process.env.OCT_DATABASE_URL,
      hqOnly: args['hq-only'],
      resultsDir: args['results-dir'],
      baseline: args.baseline,
      junit: args.junit,
      verbose: Boolean(args.verbose),
      progress: args.progress,
      out: process.stdout,
    });
  },
};
