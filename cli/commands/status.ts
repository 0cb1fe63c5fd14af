// oct status: the HQ's run state and turrets (its /status, through the API server) and the pods.
import type { CommandModule } from 'yargs';
import { hqGet, listPods, type PodSummary } from '../../deploy/kube.ts';
import { formatProgressLine, type ProgressSnapshot } from '../progress.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

interface HqStatus {
  progress?: ProgressSnapshot;
  turrets?: { name: string; state: string; results?: number; joinedAt?: string; leftAt?: string | null }[];
}

export function formatStatus(release: string, namespace: string, hq: HqStatus | string, pods: PodSummary[]): string {
  const lines = [`release ${release} (namespace ${namespace})`];
  if (typeof hq === 'string') lines.push(`HQ: unreachable: ${hq}`);
  else {
    if (hq.progress) lines.push(`run: ${hq.progress.state}  ${formatProgressLine(hq.progress)}`);
    const byState = new Map<string, number>();
    for (const t of hq.turrets ?? []) byState.set(t.state, (byState.get(t.state) ?? 0) + 1);
    lines.push(`turrets connected: ${hq.turrets?.length ?? 0}${byState.size ? ` (${[...byState].map(([s, n]) => `${s} ${n}`).join(', ')})` : ''}`);
    for (const t of hq.turrets ?? [])
      lines.push(`  ${t.name.padEnd(20)} ${t.state.padEnd(9)} results ${t.results ?? 0}${t.leftAt ? `  left ${t.leftAt}` : ''}`);
  }
  lines.push('pods:');
  const w = Math.max(4, ...pods.map((p) => p.name.length));
  lines.push(`  ${'NAME'.padEnd(w)}  ${'COMPONENT'.padEnd(10)} READY  ${'STATUS'.padEnd(11)} RESTARTS`);
  for (const p of pods)
    lines.push(`  ${p.name.padEnd(w)}  ${(p.turret ? `turret/${p.turret}` : p.component).padEnd(10)} ${p.ready.padEnd(6)} ${p.phase.padEnd(11)} ${p.restarts}`);
  if (!pods.length) lines.push('  (none)');
  return `${lines.join('\n')}\n`;
}

export const statusCommand: CommandModule<object, K8sArgs & { json: boolean }> = {
  command: 'status',
  describe: "A deployed test's state: run progress, turrets by status, pods and their readiness",
  builder: (y) =>
    k8sOptions(y)
      .option('json', { type: 'boolean', default: false, describe: 'Print {hq, pods} as JSON' })
      .example('$0 status -n load', 'The run and pods of release "oct" in namespace load') as never,
  handler: (a) =>
    handleK8sErrors(async () => {
      const kube = await kubeFrom(a);
      const pods = await listPods(kube, a.release);
      let hq: HqStatus | string;
      try {
        hq = JSON.parse(await hqGet(kube, a.release, '/status')) as HqStatus;
      } catch (err) {
        hq = (err as Error).message;
      }
      process.stdout.write(a.json ? `${JSON.stringify({ hq, pods }, null, 2)}\n` : formatStatus(a.release, kube.namespace, hq, pods));
    }),
};
