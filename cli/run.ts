// `oct run`: the local launcher. Wires the parts together — project config, store (embedded by
// default), HQ, HTTP endpoints, local turret processes, report — and turns the outcome into an
// exit code. No business logic lives here.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { HqService, type ServiceResult } from '../hq/service.ts';
import { printSummary } from '../report/generate.ts';
import { parseThresholds } from '../report/thresholds.ts';
import { writeJunit } from '../report/junit.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { ExitCode } from '../common/exit-codes.ts';
import { type LocalTurret, logTail, startLocalTurrets, stopLocalTurrets } from './local-turrets.ts';
import { createProgress } from './progress.ts';
import type { Project } from '../common/project.ts';
import { resultsDirName } from './results-dir.ts';

export interface RunOptions {
  project: Project;
  log: Logger;
  databaseUrl?: string;
  hqOnly: boolean;
  resultsDir?: string;
  junit?: string;
  verbose: boolean;
  progress: boolean;
  out: NodeJS.WriteStream;
}

export async function runProject(opts: RunOptions): Promise<number> {
  const { project, log } = opts;
  const config = project.config;
  // Thresholds are checked before anything runs: a typo must not cost a whole test.
  parseThresholds(config.thresholds);

  const resultsDir = resolve(opts.resultsDir ?? join(project.dir, 'results', resultsDirName(new Date())));
  mkdirSync(resultsDir, { recursive: true });
  copyFileSync(project.configPath, join(resultsDir, 'config.json'));

  const databaseUrl = opts.databaseUrl ?? config.results_database.db_uri;
  let store: Store;
  try {
    store = await openStore({ databaseUrl, embeddedDir: join(resultsDir, 'db'), log: log.child('store') });
  } catch (err) {
    opts.out.write(`oct: cannot open the results database: ${(err as Error).message}\n`);
    return ExitCode.TEST_NOT_RUN;
  }

  const progress = createProgress({ enabled: opts.progress, bar: config.progress_bar, out: opts.out, runTime: config.run_time });
  const bindHost = opts.hqOnly ? '0.0.0.0' : '127.0.0.1';
  let service: HqService | null = null;
  let turrets: LocalTurret[] = [];
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      opts.out.write('\ninterrupted: stopping the test and keeping what was collected (Ctrl-C again to quit now)\n');
      abort.abort(new Error('interrupted by the user'));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    service = await HqService.start({
      config,
      store,
      runName: resultsDir.split('/').pop()!,
      log,
      bindHost,
      spillDir: join(resultsDir, 'spill'),
      httpFallbackToRandomPort: !opts.hqOnly,
      onProgress: (p) => progress.update(p),
    });
    const { hq, http } = service;
    opts.out.write(
      `HQ: orders on ${hq.endpoints.publish}, results on ${hq.endpoints.results}, metrics on http://${bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost}:${http.port}/metrics\n`,
    );
    opts.out.write(`results: ${resultsDir}\n`);
    if (!opts.hqOnly) {
      turrets = startLocalTurrets({
        config,
        projectDir: project.dir,
        workDir: resultsDir,
        hq: { address: '127.0.0.1', publishPort: hq.endpoints.publishPort, resultsPort: hq.endpoints.resultsPort },
        log,
        verbose: opts.verbose,
      });
      // If every local turret dies before the test starts, nothing will ever connect: say why now
      // instead of waiting out turrets_wait_timeout.
      void Promise.all(turrets.map((t) => t.exited)).then(() => {
        if (!abort.signal.aborted && turrets.every((t) => t.exitCode !== 0)) {
          const why = turrets.map((t) => `turret ${t.name} exited with code ${t.exitCode}:\n${logTail(t.logPath)}`).join('\n');
          abort.abort(new Error(`every turret exited\n${why}`));
        }
      });
    } else {
      opts.out.write(`waiting for ${config.min_turrets} turret(s): start them with "oct turret --config FILE" (see "oct pack-turrets")\n`);
    }
    progress.start();
    // The turrets are stopped once the outcome is known, before the report is computed.
    const result = await service.run(
      abort.signal,
      { outDir: resultsDir, projectDir: project.dir },
      {
        afterRun: () => {
          progress.stop();
          return stopLocalTurrets(turrets);
        },
        beforeReport: () => opts.out.write('\nanalyzing results...\n'),
      },
    );
    return tell(opts, result);
  } catch (err) {
    progress.stop();
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await stopLocalTurrets(turrets, 2000);
    await service?.close();
    await store.close();
  }
}

/** What `oct run` prints after the test: the summary, the problems the HQ counted, why it failed. */
function tell(opts: RunOptions, { outcome, report, exitCode }: ServiceResult): number {
  const { out } = opts;
  if (!report) {
    out.write(`\ntest did not run: ${outcome.error}\n`);
    return exitCode;
  }
  printSummary(report.summary, (s: string) => out.write(s));
  if (opts.junit) writeJunit(report.thresholds, opts.junit, report.validity);
  const problems: string[] = [];
  const malformed = Object.values(outcome.malformed).reduce((a, b) => a + b, 0);
  if (malformed) problems.push(`${malformed} malformed message(s) ignored: ${JSON.stringify(outcome.malformed)}`);
  if (outcome.missingBatches) problems.push(`${outcome.missingBatches} result batch(es) never arrived`);
  if (outcome.duplicates) problems.push(`${outcome.duplicates} duplicate batch(es) ignored`);
  for (const p of problems) out.write(`warning: ${p}\n`);
  if (outcome.state === 'failed') out.write(`test failed: ${outcome.error}\n`);
  return exitCode;
}
