// The `oct` entry point: parses arguments with yargs and hands off to one command module. Command
// handlers set `process.exitCode` (see common/exit-codes.ts); errors that escape them are reported here.
import { octVersion } from '../common/version.ts';
import yargs from 'yargs';
import { CouldNotBindError } from '../hq/bind-error.ts';
import { ConfigError } from '../protocol/config.ts';
import { hotCommands } from './commands/hot.ts';
import { ExitCode } from '../common/exit-codes.ts';

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  process.exitCode = ExitCode.OK;
  const hot = argv[0] === undefined ? undefined : hotCommands[argv[0]];
  const commands = hot ? [await hot()] : (await import('./commands/index.ts')).commands;
  const cli = yargs(argv)
    .scriptName('oct')
    .usage('$0 <command> [options]\n\nDistributed load testing: an HQ and turrets over ZeroMQ.')
    .option('verbose', { alias: 'v', type: 'count', describe: 'Log more: -v info, -vv debug', global: true })
    .command(commands)
    .demandCommand(1, 'Name a command: oct --help lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    // oct's own version: yargs alone looks for a package.json from the working directory up.
    .version(octVersion())
    // yargs lays out the help text on every run, after the handler starts; unwrapped it costs
    // ~0.06 s less of each process's start-up (profiled). It is printed only with --help.
    .wrap(argv.includes('--help') || argv.includes('-h') ? Math.min(110, process.stdout.columns || 100) : null)
    .exitProcess(false)
    .fail((msg, err) => {
      // yargs' own validation (unknown options, a .check() that returned a message) is a usage
      // error; anything else thrown is a real failure and is reported as one. Throwing stops
      // yargs from going on to run the command's handler.
      if (err && err.name !== 'YError') throw err;
      throw new UsageError(msg ?? err?.message ?? 'invalid arguments');
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`oct: ${err.message}\n`);
      return ExitCode.INVALID_INPUT;
    }
    if (err instanceof CouldNotBindError) {
      process.stderr.write(`oct: the test could not run: ${err.message}\n`);
      return ExitCode.TEST_NOT_RUN;
    }
    // yargs rejects with the bare string a command's .check() returned.
    if (typeof err === 'string') err = new UsageError(err);
    if (err instanceof UsageError || (err as Error)?.name === 'YError') {
      process.stderr.write(`oct: ${(err as Error).message}\nRun "oct --help" (or "oct COMMAND --help") for usage.\n`);
      return ExitCode.INVALID_INPUT;
    }
    process.stderr.write(`oct: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.INTERNAL;
  }
  return Number(process.exitCode ?? 0);
}
