// Options and error handling shared by the Kubernetes commands (deploy, status, scale, logs,
// report fetch, undeploy).
import type { Argv } from 'yargs';
import { connect, apiMessage, type Kube } from '../../deploy/kube.ts';
import { DeployError } from '../../deploy/values.ts';
import { ExitCode } from '../../common/exit-codes.ts';

export interface K8sArgs {
  namespace?: string;
  release: string;
  kubeconfig?: string;
  context?: string;
}

export function k8sOptions<T>(y: Argv<T>): Argv<T & K8sArgs> {
  return y
    .option('namespace', { alias: 'n', type: 'string', describe: "Namespace (default: the kubeconfig context's, else default)" })
    .option('release', { alias: 'r', type: 'string', default: 'oct', describe: 'Helm release name' })
    .option('kubeconfig', { type: 'string', describe: 'Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' })
    .option('context', { type: 'string', describe: 'Kubeconfig context (default: the current one)' }) as Argv<T & K8sArgs>;
}

export function kubeFrom(a: K8sArgs): Promise<Kube> {
  return connect({ kubeconfig: a.kubeconfig, context: a.context, namespace: a.namespace });
}

/** Runs a handler; our errors and the API server's become one clear line and an exit code. */
export async function handleK8sErrors(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof DeployError) {
      process.stderr.write(`oct: ${err.message}\n`);
      process.exitCode = ExitCode.INVALID_INPUT;
      return;
    }
    const e = err as { code?: number | string; body?: unknown };
    if (e.body !== undefined || typeof e.code === 'number' || e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND') {
      process.stderr.write(`oct: Kubernetes API: ${apiMessage(err)}\n`);
      process.exitCode = ExitCode.INTERNAL;
      return;
    }
    throw err;
  }
}
