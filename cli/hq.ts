// `oct hq`: the HQ alone, as the Kubernetes HQ pod runs it. One run per run name: a restarted pod
// resumes an unfinished run (the HQ adopts it) and never starts a second test after a finished
// one — it keeps serving that run's status and report until it is stopped.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { Hq } from '../hq/hq.ts';
import { startHttpServer } from '../hq/http-server.ts';
import { metricsRoute } from '../hq/metrics.ts';
import { generateReport } from '../report/generate.ts';
import { parseThresholds } from '../report/thresholds.ts';
import { openStore } from '../store/open.ts';
import type { RunInfo } from '../store/types.ts';
import { ExitCode } from '../common/exit-codes.ts';
import { reportExitCode } from './verdict.ts';
import { hqObservers } from './hq-hooks.ts';
import type { Project } from '../common/project.ts';
import { reportRoute } from './report-route.ts';

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
  const workDir = resolve(opts.workDir);
  mkdirSync(workDir, { recursive: true });
  const store = await openStore({ databaseUrl: opts.databaseUrl, embeddedDir: join(workDir, 'db'), log: log.child('store') }).catch((err: Error) => {
    out.write(`oct hq: cannot open the results database: ${err.message}\n`);
    return null;
  });
  if (!store) return ExitCode.TEST_NOT_RUN;
  const runs = await store.listRuns();
  const done: RunInfo | undefined = runs
    .filter((r) => r.name === opts.runName && (r.state === 'finished' || r.state === 'failed'))
    .sort((a, b) => b.id - a.id)[0];
  const unfinished = await store.findUnfinishedRun(opts.runName);
  let currentRunId: number | null = done && !unfinished ? done.id : null;

  const http = await startHttpServer({ host: '0.0.0.0', port: config.http_port, log: log.child('http') });
  http.addRoute(
    '/report',
    reportRoute(store, () => currentRunId, 'results.html', 'text/html; charset=utf-8'),
  );
  http.addRoute(
    '/report/summary.json',
    reportRoute(store, () => currentRunId, 'summary.json', 'application/json'),
  );
  try {
    if (currentRunId !== null) {
      // A finished run of this name exists: a pod restart must not start a second test.
      out.write(`run "${opts.runName}" (id ${currentRunId}) already ${done!.state}; serving its report at /report\n`);
      http.setSource({
        ready: async () => ({ ok: true, detail: 'finished' }),
        status: () => ({ runId: done!.id, runName: opts.runName, state: done!.state, progress: { state: done!.state } }),
      });
      if (!opts.exitWhenDone) await waitForSignal();
      return ExitCode.OK;
    }
    const observers = await hqObservers(config, '0.0.0.0', log);
    http.addRoute('/metrics', metricsRoute(observers.metrics));
    const hq = await Hq.bind({
      config,
      store,
      runName: opts.runName,
      log: log.child('hq'),
      bindHost: '0.0.0.0',
      spillDir: join(workDir, 'spill'),
      metrics: observers.hooks,
    });
    http.setSource(hq);
    currentRunId = hq.runId;
    out.write(
      `HQ: run "${opts.runName}" (id ${hq.runId}${hq.resumed ? ', resumed' : ''}), orders on ${hq.endpoints.publish}, results on ${hq.endpoints.results}, http on :${http.port}\n`,
    );
    const abort = new AbortController();
    const onSignal = () => abort.abort(new Error('HQ received a stop signal'));
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    const outcome = await hq.run(abort.signal);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    out.write(
      `run ${outcome.runId} ${outcome.state}: ${outcome.transactions} transactions, ${outcome.errors} errors${outcome.error ? ` (${outcome.error})` : ''}\n`,
    );
    let code: number = outcome.state === 'finished' ? ExitCode.OK : ExitCode.TEST_NOT_RUN;
    if (outcome.state === 'finished' || outcome.transactions > 0) {
      const report = await generateReport({
        store,
        runId: outcome.runId,
        outDir: join(workDir, 'report'),
        projectDir: project.dir,
        config,
        log: log.child('report'),
      });
      out.write(
        `report stored in the database (artifact results.html); thresholds ${report.thresholds.passed ? 'passed' : 'FAILED'}${report.validity.valid ? '' : `; run INVALID: ${report.validity.reasons.join('; ')}`}\n`,
      );
      if (code === ExitCode.OK) code = reportExitCode(report);
    }
    await hq.close();
    await observers.close();
    if (!opts.exitWhenDone && !abort.signal.aborted) {
      out.write('serving /status, /metrics and /report until stopped\n');
      await waitForSignal();
    }
    return code;
  } finally {
    await http.close();
    await store.close();
  }
}
