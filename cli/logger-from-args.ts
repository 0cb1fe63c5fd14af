import { createLogger, type Logger } from '../common/log.ts';

/** Quiet by default (warnings and errors); --verbose adds info; console_logging or -vv adds debug. */
export function loggerFromArgs(args: { verbose?: boolean | number }, consoleLogging = false): Logger {
  const v = typeof args.verbose === 'number' ? args.verbose : args.verbose ? 1 : 0;
  return createLogger({ level: v >= 2 || (consoleLogging && v >= 1) ? 'debug' : v === 1 || consoleLogging ? 'info' : 'warn' });
}
