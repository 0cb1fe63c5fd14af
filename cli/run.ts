// `oct run`: the local launcher. Wires the parts together — project config, store (embedded by
// default), HQ, HTTP endpoints, local turret processes, report — and turns the outcome into an
// exit code. No business logic lives here.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { HqService, type ServiceResult } from '../hq/service.ts';
import { ControlAuth, controlTokenFromEnv, newControlToken, protectMetricsFromEnv } from '../hq/control-auth.ts';
import { chooseSecurity } from '../hq/security.ts';
import { turretKeysOf, writeTurretKeys } from '../common/keys-dir.ts';
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
import { type OpenedRun, openRun } from './run-ref.ts';
import { SourceError } from './results-source.ts';

export interface RunOptions {
  project: Project;
  log: Logger;
  databaseUrl?: string;
  hqOnly: boolean;
  /** The run to compare with (--baseline): a results folder, or a run id or name in the database. */
  baseline?: string;
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
  const thresholds = parseThresholds(config.thresholds);
  // So is the baseline: an unknown run must not be found out after the test.
  const baselineRef = opts.baseline ?? config.baseline;
  if (thresholds.some((t) => t.relative !== undefined) && !baselineRef) {
    opts.out.write(
      `oct: ${project.configPath}: thresholds: a threshold relative to a baseline ("<+10%") needs one: --baseline RUN or "baseline" in config.json\n`,
    );
    return ExitCode.INVALID_INPUT;
  }
  const bindHost = opts.hqOnly ? '0.0.0.0' : '127.0.0.1';
  // Keys are checked before anything runs: a missing key file is bad input (exit 2), named.
  const security = chooseSecurity(config, { baseDir: project.dir, configPath: project.configPath, bindHost });
  // One control token per run (OCT_CONTROL_TOKEN when set, for scripts that must know it first).
  let auth: ControlAuth;
  try {
    auth = new ControlAuth(controlTokenFromEnv() ?? newControlToken(), { protectMetrics: protectMetricsFromEnv() });
  } catch (err) {
    opts.out.write(`oct: ${(err as Error).message}\n`);
    return ExitCode.INVALID_INPUT;
  }
  // Opened after every other check of the input: an early return would leave it open.
  let baseline: OpenedRun | null = null;
  if (baselineRef) {
    try {
      // A baseline from config.json is relative to the project; one from the command line to the working directory.
      baseline = await openRun(baselineRef, {
        databaseUrl: opts.databaseUrl ?? config.results_database.db_uri,
        baseDir: opts.baseline ? '.' : project.dir,
        log: log.child('baseline'),
      });
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      opts.out.write(`oct: baseline: ${err.message}\n`);
      return ExitCode.INVALID_INPUT;
    }
    opts.out.write(`baseline: ${baseline.label}\n`);
  }

  const resultsDir = resolve(opts.resultsDir ?? join(project.dir, 'results', resultsDirName(new Date())));
  mkdirSync(resultsDir, { recursive: true });
  copyFileSync(project.configPath, join(resultsDir, 'config.json'));

  const progress = createProgress({ enabled: opts.progress, bar: config.progress_bar, out: opts.out, runTime: config.run_time });
  // The local turrets' keys: the project's, or this run's own (removed after the run).
  let turretKeysDir: string | undefined;
  if (security.kind === 'curve' && security.ephemeral) {
    turretKeysDir = join(resultsDir, 'turrets', 'keys');
    writeTurretKeys(turretKeysDir, turretKeysOf(security.ephemeral));
  } else if (security.kind === 'curve') {
    turretKeysDir = security.keysDir ?? undefined;
  }
  // Start-up runs in parallel: the store opens (the embedded one takes about a second) while the
  // HQ binds and the local turrets start and load their scripts; the HQ waits for the store before
  // it takes their statuses. Under CURVE that is safe: a turret only talks to the HQ whose key it holds.
  const databaseUrl = opts.databaseUrl ?? config.results_database.db_uri;
  const storeFailure: { error?: unknown } = {};
  const storeOpening = openStore({ databaseUrl, embeddedDir: join(resultsDir, 'db'), log: log.child('store') }).catch((err: unknown) => {
    storeFailure.error = err;
    throw err;
  });
  // Awaited below (or closed in `finally`); never an unhandled rejection meanwhile.
  storeOpening.catch(() => undefined);
  let store: Store | null = null;
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
  const spawnTurrets = (ports: { publishPort: number; resultsPort: number }) => {
    turrets = startLocalTurrets({
      config,
      projectDir: project.dir,
      workDir: resultsDir,
      hq: { address: '127.0.0.1', ...ports },
      log,
      verbose: opts.verbose,
      keysDir: turretKeysDir,
    });
    // If every local turret dies before the test starts, nothing will ever connect: say why now
    // instead of waiting out turrets_wait_timeout.
    const started = turrets;
    void Promise.all(started.map((t) => t.exited)).then(() => {
      if (!abort.signal.aborted && started.every((t) => t.exitCode !== 0)) {
        const why = started.map((t) => `turret ${t.name} exited with code ${t.exitCode}:\n${logTail(t.logPath)}`).join('\n');
        abort.abort(new Error(`every turret exited\n${why}`));
      }
    });
  };
  try {
    try {
      service = await HqService.start({
        config,
        store: storeOpening,
        onBound: opts.hqOnly ? undefined : spawnTurrets,
        runName: resultsDir.split('/').pop()!,
        log,
        bindHost,
        security,
        spillDir: join(resultsDir, 'spill'),
        httpFallbackToRandomPort: !opts.hqOnly,
        onProgress: (p) => progress.update(p),
        auth,
        data: project.data,
      });
    } catch (err) {
      if (storeFailure.error === undefined || err !== storeFailure.error) throw err;
      opts.out.write(`oct: cannot open the results database: ${(err as Error).message}\n`);
      return ExitCode.TEST_NOT_RUN;
    }
    store = await storeOpening;
    const { hq, http } = service;
    const base = `http://${bindHost === '0.0.0.0' ? '127.0.0.1' : bindHost}:${http.port}`;
    opts.out.write(`HQ: orders on ${hq.endpoints.publish}, results on ${hq.endpoints.results}, metrics on ${base}/metrics\n`);
    // The token rides in the URL's fragment: the browser keeps it, it is never sent to the server.
    opts.out.write(`dashboard: ${base}/#token=${auth.token}\n`);
    opts.out.write(`control token: ${auth.token} (stop or retarget: curl -X POST -H "Authorization: Bearer $TOKEN" ${base}/control/stop)\n`);
    opts.out.write(
      `security: ${security.kind === 'curve' ? `CURVE on (${security.ephemeral ? 'keys made for this run' : security.keysDir}; ${security.keys.trusted.length} turret key(s) trusted)` : 'CURVE OFF (allow_plaintext: true): any client that reaches the ports is believed'}\n`,
    );
    opts.out.write(`results: ${resultsDir}\n`);
    if (opts.hqOnly) {
      opts.out.write(`waiting for ${config.min_turrets} turret(s): start them with "oct turret --config FILE" (see "oct pack-turrets")\n`);
    }
    progress.start();
    // The turrets are stopped once the outcome is known, before the report is computed.
    const result = await service.run(
      abort.signal,
      { outDir: resultsDir, projectDir: project.dir, baseline: baseline ?? undefined },
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
    // Opened even when the HQ could not bind: it is closed once it is.
    await (store ?? (await storeOpening.catch(() => null)))?.close();
    await baseline?.close();
    if (security.kind === 'curve' && security.ephemeral && turretKeysDir) rmSync(turretKeysDir, { recursive: true, force: true });
  }
}

/** What `oct run` prints after the test: the summary, the problems the HQ counted, why it failed. */
function tell(opts: RunOptions, { outcome, report, exitCode }: ServiceResult): number {
  const { out } = opts;
  if (!report) {
    out.write(outcome.recoveryFile ? `\ntest not stored: ${outcome.error}\n` : `\ntest did not run: ${outcome.error}\n`);
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
