// Every `oct` command, one module each (yargs CommandModule). Add a command by adding its line.
import type { CommandModule } from 'yargs';
import { newProjectCommand } from './new-project.ts';
import { packTurretsCommand } from './pack-turrets.ts';
import { turretCommand } from './turret.ts';

export const commands: CommandModule<any, any>[] = [
  newProjectCommand,
  turretCommand,
  packTurretsCommand,
];
