import type { CommandModule } from 'yargs';
import { systemClock } from '../../common/clock.ts';
import { createLogger } from '../../common/log.ts';
import { ExitCode } from '../../common/exit-codes.ts';

interface Args {
  config?: string;
  tar?: string;
  'hq-address'?: string;
  'hq-publisher'?: number;
  'hq-rc'?: number;
  install: boolean;
  uuid?: string;
  verbose?: boolean | number;
}

// Quiet by default; -v logs the turret's life (ready, start, stop), -vv every order.
function verbosity(v: boolean | number | undefined): 'warn' | 'info' | 'debug' {
  const n = typeof v === 'number' ? v : v ? 1 : 0;
  return n >= 2 ? 'debug' : n === 1 ? 'info' : 'warn';
}

export const turretCommand: CommandModule<object, Args> = {
  command: 'turret',
  describe: 'Run a turret: connect to the HQ, wait for its orders, fire the canons',
  builder: (y) =>
    y
      .option('config', {
        type: 'string',
        describe: 'Turret config JSON (name, canons, rampup, script, hq_address, hq_publisher, hq_rc); the script path is relative to it',
      })
      .option('tar', { type: 'string', describe: 'A packed turret from `oct pack-turrets` (extracted to a temp dir and run)' })
      .option('hq-address', { type: 'string', describe: "Override the config's hq_address" })
      .option('hq-publisher', { type: 'number', describe: "Override hq_publisher (the HQ's PUB port)" })
      .option('hq-rc', { type: 'number', describe: "Override hq_rc (the HQ's PULL port)" })
      .option('install', { type: 'boolean', default: true, describe: "With --tar: npm install the archive's dependencies (turrets_requirements) first" })
      .option('uuid', { type: 'string', describe: 'Turret uuid (default: a random one per process)' })
      .conflicts('config', 'tar')
      .example('$0 turret --tar navigation.tar --hq-address 10.0.0.5', 'Run a packed turret against a remote HQ')
      .example('$0 turret --config turret.json -v', 'Run a turret from a config file, logging its progress')
      .epilog(
        'SIGTERM or SIGINT stops gracefully: in-flight iterations finish, results are flushed and a final status is sent. Exit codes: 0 ok, 2 invalid config, 3 aborted (script missing, broken or throwing in its constructor).',
      ),
  handler: async (args) => {
    if (!args.config && !args.tar) {
      process.stderr.write('oct: name a turret config (--config FILE) or a packed turret (--tar FILE)\nRun "oct turret --help" for usage.\n');
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    // Loaded on use, so other commands do not pay for ZeroMQ, undici and tsx's API at start-up.
    const { runTurretProcess } = await import('../../turret/process.ts');
    process.exitCode = await runTurretProcess({
      config: args.config,
      tar: args.tar,
      hqAddress: args['hq-address'],
      hqPublisher: args['hq-publisher'],
      hqRc: args['hq-rc'],
      install: args.install,
      uuid: args.uuid,
      clock: systemClock,
      log: createLogger({ level: verbosity(args.verbose) }),
    });
  },
};
