// Every `oct` command, one module each (yargs CommandModule). Add a command by adding its line.
import type { CommandModule } from 'yargs';
import { newProjectCommand } from './new-project.ts';
import { runCommand } from './run.ts';
import { hqCommand } from './hq.ts';
import { checkCommand } from './check.ts';
import { packTurretsCommand } from './pack-turrets.ts';
import { turretCommand } from './turret.ts';
import { deployCommand } from './deploy.ts';
import { statusCommand } from './status.ts';
import { scaleCommand } from './scale.ts';
import { reportFetchCommand } from './report-fetch.ts';
import { logsCommand } from './logs.ts';
import { undeployCommand } from './undeploy.ts';
import { reportCommand } from './report.ts';
import { rebuildResultsCommand } from './rebuild-results.ts';
import { resultsToCsvCommand } from './results-to-csv.ts';
import { runsCommand } from './runs.ts';
import { recoverCommand } from './recover.ts';
import { compareCommand } from './compare.ts';
import { keysCommand } from './keys.ts';
import { dashboardCommand } from './dashboard.ts';

export const commands: CommandModule<any, any>[] = [
  newProjectCommand,
  runCommand,
  hqCommand,
  checkCommand,
  turretCommand,
  packTurretsCommand,
  keysCommand,
  deployCommand,
  statusCommand,
  dashboardCommand,
  scaleCommand,
  reportFetchCommand,
  logsCommand,
  undeployCommand,
  reportCommand,
  rebuildResultsCommand,
  resultsToCsvCommand,
  runsCommand,
  recoverCommand,
  compareCommand,
];
