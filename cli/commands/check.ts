import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { loggerFromArgs } from '../logger-from-args.ts';

interface Args {
  script: string;
  iterations: number;
  canons: number;
  context?: string;
  verbose?: boolean | number;
}

export const checkCommand: CommandModule<object, Args> = {
  command: 'check <script>',
  describe: 'Run a transaction script a few times in this process and print each result (no HQ, no database)',
  builder: (y) =>
    y
      .positional('script', { type: 'string', demandOption: true, describe: 'The transaction script (.ts or .js)' })
      .option('iterations', { alias: 'n', type: 'number', default: 5, describe: 'Iterations in all' })
      .option('canons', { alias: 'c', type: 'number', default: 1, describe: 'Canons running them concurrently' })
      .option('context', { type: 'string', describe: 'The transaction context as JSON (what ctx.data holds)' })
      .check((a) => {
        if (!(a.iterations >= 1)) return '--iterations must be at least 1';
        if (!(a.canons >= 1)) return '--canons must be at least 1';
        return true;
      })
      .example('$0 check demo/test_scripts/v_user.ts -n 10', 'Smoke-test a script; exit 4 if any iteration fails'),
  handler: async (args) => {
    let context: Record<string, unknown> = {};
    if (args.context !== undefined) {
      try {
        context = JSON.parse(args.context);
      } catch (err) {
        process.stderr.write(`oct check: --context is not valid JSON: ${(err as Error).message}\n`);
        process.exitCode = ExitCode.INVALID_INPUT;
        return;
      }
    }
    const { checkScript } = await import('../check.ts');
    process.exitCode = await checkScript({
      script: args.script,
      iterations: args.iterations,
      canons: args.canons,
      context,
      log: loggerFromArgs(args),
      out: process.stdout,
    });
  },
};
