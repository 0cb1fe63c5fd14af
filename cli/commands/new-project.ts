import type { CommandModule } from 'yargs';
import { ExitCode } from '../../common/exit-codes.ts';
import { ProjectExistsError, createProject } from '../new-project.ts';

interface Args {
  name: string;
  force: boolean;
  'with-report-template': boolean;
}

export const newProjectCommand: CommandModule<object, Args> = {
  command: 'new-project <name>',
  aliases: ['newproject'],
  describe: 'Create a project folder: config.json, templates/ and test_scripts/v_user.ts',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'Folder to create' })
      .option('force', { type: 'boolean', default: false, describe: 'Write into an existing, non-empty folder' })
      .option('with-report-template', { type: 'boolean', default: false, describe: 'Copy the default report template into templates/ to customise it' })
      .example('$0 new-project demo && $0 run demo', 'Create a project and run its first test locally'),
  handler: (args) => {
    try {
      const files = createProject(args.name, { force: args.force, withReportTemplate: args['with-report-template'] });
      process.stdout.write(`created ${args.name}/\n${files.map((f) => `  ${f}`).join('\n')}\n\nnext: oct run ${args.name}\n`);
    } catch (err) {
      if (!(err instanceof ProjectExistsError)) throw err;
      process.stderr.write(`oct: ${err.message}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
    }
  },
};
