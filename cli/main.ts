// The `oct` entry point: parses arguments with yargs and hands off to one command module. Command
// handlers set `process.exitCode` (see exit-codes.ts); errors that escape them are reported here.
import yargs from 'yargs';
import { ConfigError } from '../protocol/config.ts';
import { commands } from './commands/index.ts';
import { ExitCode } from './exit-codes.ts';

export async function main(argv: string[]): Promise<number> {
  process.exitCode = ExitCode.OK;
  let usageError = false;
  const cli = yargs(argv)
    .scriptName('oct')
    .usage('$0 <command> [options]\n\nDistributed load testing: an HQ and turrets over ZeroMQ.')
    .option('verbose', { alias: 'v', type: 'boolean', default: false, describe: 'Log more (info level); twice for debug', global: true })
    .command(commands)
    .demandCommand(1, 'Name a command: oct --help lists them.')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      usageError = true;
      process.stderr.write(`oct: ${msg}\nRun "oct --help" for usage.\n`);
    });
  try {
    await cli.parseAsync();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`oct: ${err.message}\n`);
      return ExitCode.INVALID_INPUT;
    }
    process.stderr.write(`oct: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.INTERNAL;
  }
  if (usageError) return ExitCode.INVALID_INPUT;
  return Number(process.exitCode ?? 0);
}
