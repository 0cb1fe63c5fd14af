// oct logs: the logs of a release's pods, by component (or one turret), each line prefixed by pod.
import type { CommandModule } from 'yargs';
import { listPods, podLog } from '../../deploy/kube.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

type Args = K8sArgs & { component: string; turret?: string; tail?: number; previous: boolean };

export const logsCommand: CommandModule<object, Args> = {
  command: 'logs',
  describe: "Print the logs of a deployed test's pods (for following, use kubectl logs -f)",
  builder: (y) =>
    k8sOptions(y)
      .option('component', { alias: 'c', type: 'string', default: 'hq', choices: ['hq', 'turret', 'database', 'report', 'all'], describe: 'Which pods' })
      .option('turret', { alias: 't', type: 'string', describe: "Only this turret's pods (implies --component turret)" })
      .option('tail', { type: 'number', describe: 'Last N lines of each pod' })
      .option('previous', { type: 'boolean', default: false, describe: 'The previous (crashed) container' })
      .example('$0 logs -t navigation --tail 50', 'The last 50 lines of each navigation turret pod') as never,
  handler: (a) =>
    handleK8sErrors(async () => {
      const kube = await kubeFrom(a);
      const labels: Record<string, string> = {};
      if (a.turret) Object.assign(labels, { 'app.kubernetes.io/component': 'turret', 'oct/turret': a.turret });
      else if (a.component !== 'all') labels['app.kubernetes.io/component'] = a.component;
      const pods = await listPods(kube, a.release, labels);
      if (!pods.length) process.stderr.write(`oct: no ${a.turret ? `turret ${a.turret}` : a.component} pods in release ${a.release}\n`);
      for (const p of pods) {
        const text = await podLog(kube, p.name, { tailLines: a.tail, previous: a.previous });
        for (const line of text.split('\n')) if (line) process.stdout.write(pods.length > 1 ? `[${p.name}] ${line}\n` : `${line}\n`);
      }
    }),
};
