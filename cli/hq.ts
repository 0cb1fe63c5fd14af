// `oct hq`: the HQ alone, as the Kubernetes HQ pod runs it. One run per run name: a restarted pod
// resumes an unfinished run (the HQ adopts it) and never starts a second test after a finished
// one — it keeps serving that run's status and report until it is stopped.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { ExitCode } from '../common/exit-codes.ts';
import type { Project } from '../common/project.ts';
import { finishedRunNamed, HqService, serveFinishedRun } from '../hq/service.ts';
import { CONTROL_TOKEN_ENV, ControlAuth, controlTokenFromEnv, newControlToken, protectMetricsFromEnv } from '../hq/control-auth.ts';
import { chooseSecurity } from '../hq/security.ts';
import { parseThresholds } from '../report/thresholds.ts';
import { openStore } from '../store/open.ts';

export interface HqCommandOptions {
  project: Project;
  runName: string;
  databaseUrl?: string;
  workDir: string;
  exitWhenDone: boolean;
  log: Logger;
  out: NodeJS.WritableStream;
}

function waitForSignal(): Promise<void> {
  return new Promise((res) => {
    process.once('SIGTERM', () => res());
    process.once('SIGINT', () => res());
  });
}

export async function runHq(opts: HqCommandOptions): Promise<number> {
  const { project, log, out } = opts;
  const config = project.config;
  parseThresholds(config.thresholds);
  // Keys are checked before anything runs: a missing key file is bad input (exit 2), named.
  const security = chooseSecurity(config, { baseDir: project.dir, configPath: project.configPath, bindHost: '0.0.0.0' });
  const workDir = resolve(opts.workDir);
  mkdirSync(workDir, { recursive: true });
  const store = await openStore({ databaseUrl: opts.databaseUrl, embeddedDir: join(workDir, 'db'), log: log.child('store') }).catch((err: Error) => {
    out.write(`oct hq: cannot open the results database: ${err.message}\n`);
    return null;
  });
  if (!store) return ExitCode.TEST_NOT_RUN;
  let service: HqService | null = null;
  try {
    const done = await finishedRunNamed(store, opts.runName);
    if (done) {
      const http = await serveFinishedRun(store, done, config.http_port, log);
      out.write(`run "${opts.runName}" (id ${done.id}) already ${done.state}; serving its report at /report\n`);
      if (!opts.exitWhenDone) await waitForSignal();
      await http.close();
      return ExitCode.OK;
    }
    const given = controlTokenFromEnv();
    const auth = new ControlAuth(given ?? newControlToken(), { protectMetrics: protectMetricsFromEnv() });
    // The chart always sets the token from its Secret; elsewhere the operator needs to see it once.
    if (!given) out.write(`control token: ${auth.token} (set ${CONTROL_TOKEN_ENV} to choose it)\n`);
    service = await HqService.start({
      config,
      store,
      runName: opts.runName,
      log,
      bindHost: '0.0.0.0',
      security,
      spillDir: join(workDir, 'spill'),
      auth,
      data: project.data,
    });
    const { hq, http } = service;
    out.write(
      `HQ: run "${opts.runName}" (id ${hq.runId}${hq.resumed ? ', resumed' : ''}), orders on ${hq.endpoints.publish}, results on ${hq.endpoints.results}, http on :${http.port}\n`,
    );
    const abort = new AbortController();
    const onSignal = () => abort.abort(new Error('HQ received a stop signal'));
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    const { outcome, report, exitCode } = await service.run(abort.signal, { outDir: join(workDir, 'report'), projectDir: project.dir });
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    out.write(
      `run ${outcome.runId} ${outcome.state}: ${outcome.transactions} transactions, ${outcome.errors} errors${outcome.error ? ` (${outcome.error})` : ''}\n`,
    );
    if (report) {
      out.write(
        `report stored in the database (artifact results.html); thresholds ${report.thresholds.passed ? 'passed' : 'FAILED'}${report.validity.valid ? '' : `; run INVALID: ${report.validity.reasons.join('; ')}`}\n`,
      );
    }
    await service.closeHq();
    if (!opts.exitWhenDone && !abort.signal.aborted) {
      out.write('serving /status, /metrics and /report until stopped\n');
      await waitForSignal();
    }
    return exitCode;
  } finally {
    await service?.close();
    await store.close();
  }
}
