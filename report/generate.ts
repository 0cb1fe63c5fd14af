// The report entry point `oct run`, `oct report` and `oct rebuild-results` call after a test:
// statistics from the store, thresholds, results.html and summary.json in outDir, and the HTML
// saved in the store as the artifact "results.html" (so it outlives Kubernetes pods).
import { octVersion } from '../common/version.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../common/log.ts';
import { type ProjectConfig, VALIDITY_DEFAULTS } from '../protocol/config.ts';
import type { RunInfo, Store } from '../store/types.ts';
import { compareStats, type RunFigures } from './compare.ts';
import type { RunStats } from './stats.ts';
import { renderReportFile, templatePath } from './render.ts';
import { chartAssets } from './chart-assets.ts';
import { computeStats } from './stats.ts';
import { buildSummary, type Summary } from './summary.ts';
import { statsFromAggregates } from './aggregate-stats.ts';
import { scriptMetrics } from './script-metrics.ts';
import { evaluateThresholds, parseThresholds, type ThresholdEvidence, type ThresholdVerdict } from './thresholds.ts';
import { turretInfo } from './turret-info.ts';
import { judgeWindows } from './window-thresholds.ts';
import { judgeValidity, type Validity } from './validity.ts';
import { LOAD_ARTIFACT, type LoadTimelineData } from '../protocol/load-report.ts';

export { printSummary } from './summary.ts';

export interface GenerateReportOptions {
  store: Store;
  runId: number;
  outDir: string;
  /** The project, whose templates/report.html (if any) overrides the default template. */
  projectDir?: string;
  /** The run's config; only run_time, results_ts_interval, thresholds and validity are read. */
  config: Pick<ProjectConfig, 'run_time' | 'results_ts_interval' | 'thresholds'> & Partial<Pick<ProjectConfig, 'validity'>>;
  log: Logger;
  /** Saves results.html into the store too (default true). */
  saveArtifact?: boolean;
  /** Percentiles from every stored result (SQL over the rows) instead of the stored histograms. */
  exact?: boolean;
  /** The run to compare with (oct run --baseline): its figures go in the report, and relative thresholds use them. */
  baseline?: RunFigures;
}

export interface GeneratedReport {
  htmlPath: string;
  summaryPath: string;
  summary: Summary;
  thresholds: ThresholdVerdict;
  validity: Validity;
}

/** The load timeline the HQ saved with a planned run; null for an unplanned one. */
async function readLoadTimeline(store: Store, runId: number, log: Logger): Promise<LoadTimelineData | null> {
  const raw = await store.getArtifact(runId, LOAD_ARTIFACT);
  if (!raw) return null;
  try {
    const data = JSON.parse(raw.toString('utf8')) as LoadTimelineData;
    if (data?.version !== 1 || !Array.isArray(data.seconds) || !Array.isArray(data.turrets)) throw new Error('not a version 1 load timeline');
    return data;
  } catch (err) {
    log.warn(`the run's ${LOAD_ARTIFACT} is unreadable; the load is not reported`, { error: err as Error });
    return null;
  }
}

/** A run's statistics as the report computes them: from the stored histograms, else exact over the rows. */
export async function runStats(
  store: Store,
  run: RunInfo,
  config: Pick<ProjectConfig, 'run_time' | 'results_ts_interval'>,
  opts: { exact?: boolean; log: Logger },
): Promise<{ stats: RunStats; aggregates: Awaited<ReturnType<Store['readAggregates']>> }> {
  const runId = run.id;
  const statsOptions = { runId, interval: config.results_ts_interval, runTime: config.run_time, startedAt: run.startedAt, endedAt: run.endedAt };
  const aggregates = await store.readAggregates(runId);
  // Runs stored before aggregates existed have rows only: their report stays exact.
  const exact = opts.exact || aggregates.rows.length === 0;
  const storage = (run.config as { results_storage?: string } | null)?.results_storage ?? 'all';
  if (opts.exact && storage !== 'all') opts.log.warn(`--exact reads the stored rows, and this run stored only "${storage}": the figures cover those`);
  const stats = exact
    ? await computeStats(store.sql, statsOptions)
    : statsFromAggregates({ ...aggregates, turrets: await turretInfo(store.sql, runId, run.startedAt) }, statsOptions);
  return { stats, aggregates };
}

export async function generateReport(opts: GenerateReportOptions): Promise<GeneratedReport> {
  const started = performance.now();
  const { store, runId, log } = opts;
  const thresholds = parseThresholds(opts.config.thresholds);
  const run = await store.getRun(runId);
  if (!run) throw new Error(`no run ${runId} in ${store.location}`);
  const { stats, aggregates } = await runStats(store, run, opts.config, { exact: opts.exact, log });
  const load = await readLoadTimeline(store, runId, log);
  const validity = judgeValidity(load, opts.config.validity ?? VALIDITY_DEFAULTS);
  const live = (run.summary as { thresholds?: ThresholdEvidence['live'] } | null)?.thresholds;
  const baseline = opts.baseline ? { label: opts.baseline.label, series: opts.baseline.stats.series } : undefined;
  // Checks and request counters live only in the aggregates, --exact or not.
  const script = scriptMetrics(aggregates.rows);
  const verdict = evaluateThresholds(thresholds, stats.series, validity, {
    windows: judgeWindows(thresholds, aggregates.rows),
    live,
    baseline,
    checks: script.checks,
  });
  const control = await store.listControlActions(runId);
  const summary = buildSummary({ run, stats, thresholds: verdict, validity, load, runTime: opts.config.run_time, control, script });
  if (opts.baseline) summary.comparison = compareStats(opts.baseline, { label: `run ${run.id} (${run.name})`, run, stats });
  log.info('statistics computed', { runId, seconds: ((performance.now() - started) / 1000).toFixed(3) });

  mkdirSync(opts.outDir, { recursive: true });
  const htmlPath = resolve(join(opts.outDir, 'results.html'));
  const summaryPath = resolve(join(opts.outDir, 'summary.json'));
  summary.report.html = htmlPath;
  const template = templatePath(opts.projectDir);
  const html = renderReportFile({ title: `oct report — ${run.name}`, summary, octVersion: octVersion(), chartAssets: chartAssets() }, template);
  writeFileSync(htmlPath, html);
  if (opts.saveArtifact ?? true) await store.saveArtifact(runId, 'results.html', Buffer.from(html));
  summary.report.seconds = (performance.now() - started) / 1000;
  writeFileSync(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  if (opts.saveArtifact ?? true) await store.saveArtifact(runId, 'summary.json', Buffer.from(JSON.stringify(summary)));
  log.info('report written', { html: htmlPath, template, seconds: summary.report.seconds.toFixed(3) });
  return { htmlPath, summaryPath, summary, thresholds: verdict, validity };
}
