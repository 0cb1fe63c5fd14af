// oct report fetch: the HTML report from the HQ's /report (served from Postgres, so it is there
// after the turret and report pods are gone), through the API server's service proxy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { hqGet } from '../../deploy/kube.ts';
import { DeployError } from '../../deploy/values.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

type Args = K8sArgs & { out: string };

const builder = (y: Argv<object>) =>
  k8sOptions(y)
    .option('out', { alias: 'o', type: 'string', default: 'report', describe: 'Folder to write results.html into' })
    .example('$0 report fetch -n load --out ./report', 'Save the report of release "oct"');

async function handler(a: Args): Promise<void> {
  await handleK8sErrors(async () => {
    const kube = await kubeFrom(a);
    let html: string;
    try {
      html = await hqGet(kube, a.release, '/report');
    } catch (err) {
      throw new DeployError(
        `${(err as Error).message}\nThe report is served by the HQ once the report Job has stored it. ` +
          `If the run is still going, wait ("oct status"); if the HQ is scaled down, scale it back: kubectl -n ${kube.namespace} scale deployment -l app.kubernetes.io/instance=${a.release},app.kubernetes.io/component=hq --replicas=1`,
      );
    }
    const dir = resolve(a.out);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'results.html');
    writeFileSync(file, html);
    process.stdout.write(`${file}\n`);
  });
}

/** For mounting under `oct report` (as `oct report fetch`). */
export const reportFetchSubcommand: CommandModule<object, Args> = {
  command: 'fetch',
  describe: "Download a deployed test's HTML report",
  builder: builder as never,
  handler,
};

export const reportFetchCommand: CommandModule<object, Args> = {
  command: 'report-fetch',
  // Hidden: the documented spelling is `oct report fetch`; this alias stays for scripts.
  describe: false,
  builder: builder as never,
  handler,
};
