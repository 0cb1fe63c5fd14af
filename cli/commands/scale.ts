// oct scale: kubectl scale for a turret, by its name in config.json.
import type { CommandModule } from 'yargs';
import { scaleTurret } from '../../deploy/kube.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

export const scaleCommand: CommandModule<object, K8sArgs & { turret: string; replicas: number }> = {
  command: 'scale <turret> <replicas>',
  describe: "Set a turret's pod count during a test (new pods join the run; removed ones flush and leave)",
  builder: (y) =>
    k8sOptions(y)
      .positional('turret', { type: 'string', demandOption: true, describe: "The turret's name in config.json (or its Deployment's name)" })
      .positional('replicas', { type: 'number', demandOption: true, describe: 'Pods wanted (0 or more)' })
      .check((a) => (Number.isInteger(a.replicas) && a.replicas >= 0 ? true : `replicas must be a whole number >= 0, got ${a.replicas}`))
      .example('$0 scale navigation 10 -n load', 'Ten navigation turret pods') as never,
  handler: (a) =>
    handleK8sErrors(async () => {
      const kube = await kubeFrom(a);
      const { deployment, from } = await scaleTurret(kube, a.release, a.turret, a.replicas);
      process.stdout.write(
        `deployment/${deployment} scaled from ${from} to ${a.replicas}\n` + '(a later "oct deploy" or "helm upgrade" resets it to the values\' replicas)\n',
      );
    }),
};
