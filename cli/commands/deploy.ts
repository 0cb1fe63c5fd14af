// oct deploy: a project's config and scripts become the chart's values; helm installs or upgrades
// the release, or --render writes a chart directory to install any other way.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import { parse, stringify } from 'yaml';
import { CHART_DIR, renderChartDir } from '../../deploy/chart.ts';
import { requireHelm, runHelm, upgradeArgs } from '../../deploy/helm.ts';
import { followRun } from '../../deploy/follow-run.ts';
import { projectValues } from '../../deploy/project.ts';
import { DeployError, mergeValues } from '../../deploy/values.ts';
import { createProgress } from '../progress.ts';
import { ExitCode } from '../../common/exit-codes.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

interface Args extends K8sArgs {
  project: string;
  values: string[];
  set: string[];
  wait: boolean;
  timeout: string;
  render?: string;
}

function readValuesFile(path: string): Record<string, unknown> {
  try {
    return (parse(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw new DeployError(`--values ${path}: ${(err as Error).message}`);
  }
}

/** The run's live line while it runs on the cluster. */
async function followWithProgress(a: Args, runTime: number): Promise<'finished' | 'failed'> {
  const kube = await kubeFrom(a);
  const progress = createProgress({ enabled: true, bar: false, out: process.stdout, runTime });
  progress.start();
  try {
    return await followRun(kube, a.release, (p) => progress.update(p));
  } finally {
    progress.stop();
  }
}

export const deployCommand: CommandModule<object, Args> = {
  command: 'deploy <project>',
  describe: 'Deploy a project to Kubernetes with the oct Helm chart (install or upgrade)',
  builder: (y) =>
    k8sOptions(y)
      .positional('project', { type: 'string', demandOption: true, describe: 'Project folder (with config.json)' })
      .option('values', { alias: 'f', type: 'string', array: true, default: [], describe: 'Extra values file(s) for the chart (later ones win)' })
      .option('set', { type: 'string', array: true, default: [], describe: 'A chart value, as helm --set k=v (repeatable)' })
      .option('wait', { type: 'boolean', default: false, describe: 'Wait for the pods, then follow the run with a live line until it ends' })
      .option('timeout', { type: 'string', default: '10m', describe: 'With --wait: how long helm waits for the pods' })
      .option('render', { type: 'string', describe: 'Write a chart directory with the generated values to DIR instead of installing' })
      .example('$0 deploy demo -n load --wait', 'Install (or upgrade) release "oct" in namespace load and follow the run')
      .example('$0 deploy demo --render out/ && helm install demo out/', 'Render a chart to install yourself') as never,
  handler: (a) =>
    handleK8sErrors(async () => {
      const { values: generated, warnings } = projectValues(a.project);
      for (const w of warnings) process.stderr.write(`oct: warning: ${w}\n`);
      const runTime = Number((generated.config as { run_time?: number }).run_time ?? 30);

      if (a.render) {
        if (a.set.length) throw new DeployError('--set does not apply with --render: pass it to helm install, or put it in a --values file');
        const merged = a.values.reduce<Record<string, unknown>>(
          (acc, f) => mergeValues(acc, readValuesFile(f)) as Record<string, unknown>,
          generated as unknown as Record<string, unknown>,
        );
        renderChartDir(a.render, merged);
        process.stdout.write(
          `chart written to ${a.render}\n  helm install ${a.release} ${a.render}${a.namespace ? ` -n ${a.namespace} --create-namespace` : ''}\n`,
        );
        return;
      }

      const helm = requireHelm();
      const dir = mkdtempSync(join(tmpdir(), 'oct-deploy-'));
      try {
        const generatedFile = join(dir, 'project-values.yaml');
        writeFileSync(generatedFile, stringify(generated, { lineWidth: 0 }));
        const args = upgradeArgs({
          release: a.release,
          namespace: a.namespace,
          chart: CHART_DIR,
          valuesFiles: [generatedFile, ...a.values],
          set: a.set,
          wait: a.wait,
          timeout: a.timeout,
        });
        if (a.kubeconfig) args.push('--kubeconfig', a.kubeconfig);
        if (a.context) args.push('--kube-context', a.context);
        const r = await runHelm(helm, args, { echo: true });
        if (r.code !== 0) {
          process.stderr.write(`oct: helm ${args.slice(0, 3).join(' ')} failed (exit ${r.code})\n`);
          process.exitCode = ExitCode.INTERNAL;
          return;
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      if (a.wait) {
        const state = await followWithProgress(a, runTime);
        process.stdout.write(`run ${state}: oct report fetch --release ${a.release}${a.namespace ? ` -n ${a.namespace}` : ''} --out ./report\n`);
        if (state === 'failed') process.exitCode = ExitCode.TEST_NOT_RUN;
      }
    }),
};
