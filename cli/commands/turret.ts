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
  'keys-dir'?: string;
  install: boolean;
  uuid?: string;
  workers: string;
  worker?: string;
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
      .option('keys-dir', {
        type: 'string',
        describe: "CURVE keys directory holding hq.pub and turret.key (replaces the config's keys_dir; see `oct keys`)",
      })
      .option('install', { type: 'boolean', default: true, describe: "With --tar: npm install the archive's dependencies (turrets_requirements) first" })
      .option('uuid', { type: 'string', describe: 'Turret uuid (default: a random one per process)' })
      .option('workers', {
        type: 'string',
        default: '1',
        describe: 'Turret processes sharing the canons, one per core: a number, or "auto" for the CPUs available (cgroup quota included)',
      })
      .option('worker', { type: 'string', hidden: true, describe: 'I/N: this process is worker I of N (set by --workers)' })
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
    const log = createLogger({ level: verbosity(args.verbose) });
    const { availableCpus, parseWorkerSlot, runTurretWorkers } = await import('../../turret/workers.ts');
    const workers = args.workers === 'auto' ? availableCpus() : Number(args.workers);
    const slot = parseWorkerSlot(args.worker);
    if (!Number.isSafeInteger(workers) || workers < 1 || workers > 256 || typeof slot === 'string') {
      process.stderr.write(`oct: ${typeof slot === 'string' ? slot : `--workers: expected a number from 1 to 256 or "auto", got "${args.workers}"`}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    if (workers > 1 && slot === null) {
      process.exitCode = await runTurretWorkers({ bin: process.argv[1]!, args: withoutWorkers(process.argv.slice(3)), count: workers, log });
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
      keysDir: args['keys-dir'],
      install: args.install,
      uuid: args.uuid,
      worker: slot ?? undefined,
      clock: systemClock,
      log,
    });
  },
};

/** The command line without --workers (each worker gets `--workers 1 --worker I/N`). */
function withoutWorkers(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--workers') i++;
    else if (!argv[i]!.startsWith('--workers=')) out.push(argv[i]!);
  }
  return out;
}
