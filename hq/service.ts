// The HQ as a service: what `oct run` (local) and `oct hq` (the Kubernetes pod) both run. It binds
// the HQ, serves its HTTP endpoints (/status, /metrics, /report), runs the test, writes the report
// and turns the outcome into an exit code. The launchers differ only in how turrets start and what
// happens after the run.
import type { Logger } from '../common/log.ts';
import { ExitCode } from '../common/exit-codes.ts';
import type { ProjectConfig } from '../protocol/config.ts';
import { reportExitCode } from '../report/exit-code.ts';
import { type GeneratedReport, generateReport } from '../report/generate.ts';
import type { RunInfo, Store } from '../store/types.ts';
import { Hq, type HqBindOptions, type HqOptions, type RunOutcome } from './hq.ts';
import { type HqHttpServer as HttpServer, startHttpServer } from './http-server.ts';
import { metricsRoute } from './metrics.ts';
import { hqObservers } from './observers.ts';
import { reportRoute } from './report-route.ts';
import type { ControlAuth } from './control-auth.ts';
import { DashboardFeed } from './dashboard-feed.ts';
import { DashboardStream } from './dashboard-stream.ts';
import { RunControl } from './run-control.ts';
import { dashboardPage } from '../report/dashboard-page.ts';
import type { RunFigures } from '../report/compare.ts';
import { systemClock } from '../common/clock.ts';
import { type HqSecurity, warnIfPlaintext } from './security.ts';

export interface HqServiceOptions {
  config: ProjectConfig;
  store: Store;
  runName: string;
  log: Logger;
  /** '127.0.0.1' for a local run, '0.0.0.0' for remote turrets. */
  bindHost: string;
  /** CURVE or plaintext, as chooseSecurity (hq/security.ts) decided. */
  security: HqSecurity;
  spillDir: string;
  /** Locally a busy http_port falls back to a free one; a pod must get the port its Service names. */
  httpFallbackToRandomPort?: boolean;
  onProgress?: HqOptions['onProgress'];
  /** The control token: control endpoints need it, /status shows turret uuids only with it. */
  auth: ControlAuth;
  data?: HqOptions['data'];
}

/** What HqService.start takes: the store may still be opening (see Hq.bind). */
export interface HqServiceStartOptions extends Omit<HqServiceOptions, 'store'> {
  store: Store | Promise<Store>;
  onBound?: HqBindOptions['onBound'];
}

export interface ServiceResult {
  outcome: RunOutcome;
  /** Null when the test did not run (nothing to report). */
  report: GeneratedReport | null;
  exitCode: number;
}

export interface RunHooks {
  /** The test is over (turrets may be stopped now); always called. */
  afterRun?(): Promise<void>;
  /** Called when there is a report to compute, before it (it can take a while). */
  beforeReport?(): void;
}

export class HqService {
  private hqClosed = false;

  private constructor(
    readonly hq: Hq,
    readonly http: HttpServer,
    private readonly observers: Awaited<ReturnType<typeof hqObservers>>,
    private readonly opts: HqServiceOptions,
    readonly dashboard: DashboardStream,
    readonly control: RunControl,
  ) {}

  static async start(startOpts: HqServiceStartOptions): Promise<HqService> {
    const { config, log } = startOpts;
    const observers = await hqObservers(config, startOpts.bindHost, log);
    let hq: Hq | null = null;
    try {
      hq = await Hq.bind({
        config,
        store: startOpts.store,
        onBound: startOpts.onBound,
        runName: startOpts.runName,
        log: log.child('hq'),
        bindHost: startOpts.bindHost,
        spillDir: startOpts.spillDir,
        metrics: observers.hooks,
        onProgress: startOpts.onProgress,
        curve: startOpts.security.kind === 'curve' ? startOpts.security.keys : undefined,
        data: startOpts.data,
      });
      // Resolved: Hq.bind waited for it.
      const store = await startOpts.store;
      const opts: HqServiceOptions = { ...startOpts, store };
      warnIfPlaintext(opts.security, { publish: hq.endpoints.publish, results: hq.endpoints.results }, log);
      const http = await startHttpServer({
        host: opts.bindHost,
        port: config.http_port,
        fallbackToRandomPort: opts.httpFallbackToRandomPort ?? false,
        log: log.child('http'),
        hq,
        auth: opts.auth,
      });
      const runId = hq.runId;
      const metrics = metricsRoute(observers.metrics);
      http.addRoute('/metrics', opts.auth.opts.protectMetrics ? opts.auth.guard(metrics) : metrics);
      const control = new RunControl(hq, store, opts.auth, systemClock, log.child('control'));
      const h = hq;
      const feed = new DashboardFeed(
        {
          runId,
          runName: opts.runName,
          progress: () => h.progress(),
          live: () => h.stats.snapshot(),
          interval: () => h.stats.takeInterval(),
          errorsByMessage: (n) => h.stats.errorsByMessage(n),
          turrets: () => h.turretSummaries(),
          saturated: (uuid) => observers.metrics.saturated(uuid),
          plannedTarget: () => h.plannedTarget(),
          latestLoad: () => h.latestLoad(),
          control: () => control.history(),
        },
        { monotonic: () => performance.now() },
      );
      const dashboard = new DashboardStream(feed, dashboardPage, log.child('dashboard'));
      http.addRoute('/', dashboard.pageRoute());
      http.addRoute('/events', dashboard.eventsRoute());
      http.addRoute('/control/stop', control.route('stop'));
      http.addRoute('/control/target', control.route('target'));
      dashboard.start();
      http.addRoute(
        '/report',
        reportRoute(store, () => runId, 'results.html', 'text/html; charset=utf-8'),
      );
      http.addRoute(
        '/report/summary.json',
        reportRoute(store, () => runId, 'summary.json', 'application/json'),
      );
      return new HqService(hq, http, observers, opts, dashboard, control);
    } catch (err) {
      await hq?.close();
      await observers.close();
      throw err;
    }
  }

  /**
   * Runs the test to its end, then its report (written to `outDir` and stored with the run), and
   * the exit code both launchers return: 3 when the test did not run or failed, else the report's.
   */
  async run(signal: AbortSignal, report: { outDir: string; projectDir?: string; baseline?: RunFigures }, hooks: RunHooks = {}): Promise<ServiceResult> {
    const outcome = await this.hq.run(signal);
    await hooks.afterRun?.();
    // With the run in a recovery file there is no store to build a report from: `oct recover`
    // and `oct rebuild-results` make it later.
    if (outcome.state === 'failed' && (outcome.transactions === 0 || outcome.recoveryFile)) return { outcome, report: null, exitCode: ExitCode.TEST_NOT_RUN };
    hooks.beforeReport?.();
    const generated = await generateReport({
      store: this.opts.store,
      runId: outcome.runId,
      outDir: report.outDir,
      projectDir: report.projectDir,
      config: this.opts.config,
      log: this.opts.log.child('report'),
      baseline: report.baseline,
    });
    const html = await this.opts.store.getArtifact(outcome.runId, 'results.html').catch(() => null);
    if (html) this.dashboard.finish(html.toString('utf8'));
    const exitCode = outcome.state === 'failed' ? ExitCode.TEST_NOT_RUN : reportExitCode(generated);
    return { outcome, report: generated, exitCode };
  }

  /** Closes the HQ's sockets and observers; the HTTP server stays up until `closeHttp` (a pod keeps serving /report). */
  async closeHq(): Promise<void> {
    if (this.hqClosed) return;
    this.hqClosed = true;
    await this.hq.close();
    await this.observers.close();
  }

  async close(): Promise<void> {
    await this.closeHq();
    await this.dashboard.close();
    await this.http.close();
  }
}

/**
 * The run-adoption rule of a named run (one test per run name): a finished or failed run of that
 * name, with none unfinished after it, is done — a restarted pod must serve it, not start another
 * test. An unfinished one is resumed by Hq.bind.
 */
export async function finishedRunNamed(store: Store, runName: string): Promise<RunInfo | null> {
  if (await store.findUnfinishedRun(runName)) return null;
  const runs = await store.listRuns();
  return runs.filter((r) => r.name === runName && (r.state === 'finished' || r.state === 'failed')).sort((a, b) => b.id - a.id)[0] ?? null;
}

/** The HTTP endpoints of a run that is over: its status and its stored report. */
export async function serveFinishedRun(store: Store, run: RunInfo, port: number, log: Logger): Promise<HttpServer> {
  const http = await startHttpServer({ host: '0.0.0.0', port, log: log.child('http') });
  http.addRoute(
    '/report',
    reportRoute(store, () => run.id, 'results.html', 'text/html; charset=utf-8'),
  );
  http.addRoute(
    '/report/summary.json',
    reportRoute(store, () => run.id, 'summary.json', 'application/json'),
  );
  http.addRoute('/', (_req, res) => {
    res.writeHead(302, { location: 'report' });
    res.end();
  });
  http.setSource({
    ready: async () => ({ ok: true, detail: 'finished' }),
    status: () => ({ runId: run.id, runName: run.name, state: run.state, progress: { state: run.state } }),
  });
  return http;
}
