import { resolve } from 'node:path';
import type { CommandModule } from 'yargs';

interface Args {
  project: string;
  out: string;
}

export const packTurretsCommand: CommandModule<object, Args> = {
  command: 'pack-turrets <project>',
  aliases: ['pack'],
  describe: 'Pack each turret of a project into NAME.tar (config, script, extra_files, package.json of turrets_requirements)',
  builder: (y) =>
    y
      .positional('project', { type: 'string', demandOption: true, describe: 'Project folder (holding config.json)' })
      .option('out', { type: 'string', default: '.', describe: 'Folder to write the archives to' })
      .example('$0 pack-turrets demo', 'Writes ./navigation.tar and ./random.tar')
      .example('$0 turret --tar navigation.tar --hq-address 10.0.0.5', 'On the turret machine: install its dependencies and run it')
      .epilog(
        'Set hq_address (and publish_port/rc_port) in config.json to where the HQ will listen before packing, or override them with `oct turret --hq-address …`.',
      ),
  handler: async (args) => {
    const { packTurrets } = await import('../../turret/pack.ts');
    await packTurrets(args.project, { outDir: resolve(args.out), print: (line) => process.stdout.write(`${line}\n`) });
  },
};
