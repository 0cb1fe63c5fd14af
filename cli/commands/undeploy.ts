// oct undeploy: helm uninstall, then says what stays (the database volume, unless --delete-data).
import type { CommandModule } from 'yargs';
import { requireHelm, runHelm, uninstallArgs } from '../../deploy/helm.ts';
import { deleteClaim, releaseClaims } from '../../deploy/kube.ts';
import { ExitCode } from '../../common/exit-codes.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

export const undeployCommand: CommandModule<object, K8sArgs & { 'delete-data': boolean }> = {
  command: 'undeploy',
  describe: 'Remove everything a release created; the database volume (results) is kept unless --delete-data',
  builder: (y) =>
    k8sOptions(y)
      .option('delete-data', { type: 'boolean', default: false, describe: "Also delete the built-in database's volume: every stored result and report" })
      .example('$0 undeploy -n load', 'Remove release "oct", keep its results') as never,
  handler: (a) =>
    handleK8sErrors(async () => {
      const kube = await kubeFrom(a);
      const helm = requireHelm();
      const r = await runHelm(
        helm,
        [
          ...uninstallArgs(a.release, kube.namespace),
          ...(a.kubeconfig ? ['--kubeconfig', a.kubeconfig] : []),
          ...(a.context ? ['--kube-context', a.context] : []),
        ],
        { echo: true },
      );
      if (r.code !== 0) {
        process.exitCode = ExitCode.INTERNAL;
        return;
      }
      const claims = await releaseClaims(kube, a.release);
      if (a['delete-data']) {
        for (const c of claims) await deleteClaim(kube, c);
        process.stdout.write(claims.length ? `deleted ${claims.map((c) => `pvc/${c}`).join(', ')}\n` : 'no database volume to delete\n');
      } else if (claims.length) {
        process.stdout.write(
          `kept (results and reports): ${claims.map((c) => `pvc/${c}`).join(', ')}\n` +
            `  a new deploy with the same release and namespace reuses it; delete it with: oct undeploy --release ${a.release} -n ${kube.namespace} --delete-data\n`,
        );
      }
      process.stdout.write('an external database (database.mode=external) is never touched.\n');
    }),
};
