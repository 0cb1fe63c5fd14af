// oct dashboard: the live dashboard of a deployed test in a local browser. A loopback relay
// (deploy/hq-relay.ts) carries the page, its event stream and control requests to the HQ through
// the API server's service proxy, so nothing is exposed and no port-forward is needed; the control
// token comes from the chart's Secret when this user may read it.
//
// It prints the URL rather than opening a browser: the token is in the URL, and handing it to
// xdg-open/open puts it on a command line other local users can read; most places this runs (an
// SSH session, a CI job, a container) have no browser to open anyway.
import type { CommandModule } from 'yargs';
import { startHqRelay } from '../../deploy/hq-relay.ts';
import { hqGet, hqServiceName, type Kube, ReleaseNotFoundError, readControlToken } from '../../deploy/kube.ts';
import { ExitCode } from '../../common/exit-codes.ts';
import { handleK8sErrors, type K8sArgs, k8sOptions, kubeFrom } from './k8s-common.ts';

type Args = K8sArgs & { port: number };

function noTokenHelp(kube: Kube, secret: string, reason: string, url: string): string {
  return (
    `control (stop, change the target) needs the run's control token, and the Secret ${secret} could not be read: ${reason}\n` +
    `  someone allowed to read it can get it with:\n` +
    `    kubectl -n ${kube.namespace} get secret ${secret} -o jsonpath='{.data.token}' | base64 -d\n` +
    `  then open ${url}#token=TOKEN (or paste it into the page's token field); the read-only views work without it\n`
  );
}

async function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(sig);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}

export const dashboardCommand: CommandModule<object, Args> = {
  command: 'dashboard',
  describe: "A deployed test's live dashboard on 127.0.0.1, relayed through the API server (no port-forward, nothing exposed)",
  builder: (y) =>
    k8sOptions(y)
      .option('port', { alias: 'p', type: 'number', default: 0, describe: 'Local port on 127.0.0.1 (default: a free one)' })
      .check((a) => (Number.isInteger(a.port) && a.port >= 0 && a.port <= 65535 ? true : `--port must be a whole number from 0 to 65535, got ${a.port}`))
      .example('$0 dashboard -n load', 'Print the URL of release "oct"\'s dashboard and relay until Ctrl-C')
      .example('$0 dashboard -n load --release nightly --port 8089', 'A fixed local port') as never,
  handler: (a) =>
    handleK8sErrors(async () => {
      const kube = await kubeFrom(a);
      let svc: string;
      try {
        svc = await hqServiceName(kube, a.release);
      } catch (err) {
        if (!(err instanceof ReleaseNotFoundError)) throw err;
        process.stderr.write(`oct: ${err.message}\n`);
        process.exitCode = ExitCode.TEST_NOT_RUN;
        return;
      }
      const control = await readControlToken(kube, a.release, svc);
      let relay: Awaited<ReturnType<typeof startHqRelay>>;
      try {
        relay = await startHqRelay(kube, svc, { port: a.port || undefined, onError: (m) => process.stderr.write(`oct dashboard: ${m}\n`) });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        process.stderr.write(
          `oct: cannot listen on 127.0.0.1:${a.port}: ${e.code === 'EADDRINUSE' ? 'the port is in use (choose another with --port, or 0 for a free one)' : e.message}\n`,
        );
        process.exitCode = ExitCode.TEST_NOT_RUN;
        return;
      }
      // Listening for Ctrl-C before the URL is printed: whoever reads the URL may stop us at once,
      // even while the health probe below is still waiting for the API server.
      const stopped = untilSignal();
      process.stdout.write(`dashboard: ${relay.url}${control.token ? `#token=${encodeURIComponent(control.token)}` : ''}\n`);
      process.stderr.write(
        `relaying to service ${svc} (release ${a.release}, namespace ${kube.namespace}) through the API server ${kube.config.getCurrentCluster()!.server}; Ctrl-C to stop\n`,
      );
      if (control.token === null) process.stderr.write(noTokenHelp(kube, control.secret, control.reason, relay.url));
      try {
        await hqGet(kube, a.release, '/healthz');
      } catch (err) {
        process.stderr.write(`the HQ does not answer yet (${(err as Error).message}); the page connects when it does\n`);
      }
      await stopped;
      await relay.close();
    }),
};
