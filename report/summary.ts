// summary.json: the machine-readable outcome of a run (beside results.html), and the end-of-run text
// printed to the terminal, in the original's words.
import type { ControlAction, RunInfo } from '../store/types.ts';
import type { RunStats } from './stats.ts';
import type { LoadSecond, LoadTimelineData } from '../protocol/load-report.ts';
import { formatThresholdsTable, type ThresholdVerdict } from './thresholds.ts';
import type { Validity } from './validity.ts';
import type { CheckStats, RequestStats, ScriptMetrics } from './script-metrics.ts';

export const SUMMARY_VERSION = 1;

export interface Summary {
  version: number;
  generatedAt: string;
  run: {
    id: number;
    name: string;
    state: string;
    startedAt: string | null;
    endedAt: string | null;
    runTime: number;
    interval: number;
    error: string | null;
  };
  totals: {
    transactions: number;
    errors: number;
    /** errors / transactions, 0..1. */
    errorRate: number;
    /** Seconds the rates are computed over. */
    duration: number;
    /** Transactions per second. */
    throughput: number;
    turrets: number;
  };
  /** Latencies are in seconds throughout. */
  units: { latency: 'seconds'; throughput: 'per second' };
  percentiles: RunStats['percentileMethod'];
  series: RunStats['series'];
  errors: { distinct: number; top: RunStats['errorsByMessage'] };
  /** ctx.check pass rates, by check name. */
  checks: CheckStats[];
  /** ctx.http requests per series: responses by status, failures, body bytes (latencies are in `series`). */
  requests: RequestStats[];
  turrets: RunStats['turrets'];
  turretBreakdown: RunStats['turretBreakdown'];
  thresholds: ThresholdVerdict;
  /** "INVALID" when the load generator could not produce the planned load (report/validity.ts). */
  verdict: 'PASS' | 'FAIL' | 'INVALID';
  validity: Validity;
  /** Planned runs: the load second by second, summed over turrets; null for unplanned runs. */
  load: {
    model: LoadTimelineData['model'];
    seconds: LoadSecond[];
    turrets: Array<{ uuid: string; name: string; started: number; dropped: number }>;
    replans: LoadTimelineData['replans'];
  } | null;
  /** What the HQ counted while it ran (from the run's record; null for runs stored before it kept them). */
  intake: {
    malformed: Record<string, number>;
    duplicates: number;
    missingBatches: number;
    lateResults: number;
    droppedResults: number;
    /** Results that reached the store through `oct recover` (the store was away at the end). */
    resultsInRecoveryFile: number;
    refusedSeries: number;
  } | null;
  /** The threshold with abort_on_fail that stopped the run, if one did. */
  abortedBy: { key: string; at: number; detail: string } | null;
  report: { html: string | null; seconds: number | null };
  /** Actions taken on the running test over HTTP (stop, a new target): who, when, what. */
  control: Array<{ at: string; elapsed: number; action: string; by: string; origin: string; detail: Record<string, unknown>; text: string }>;
  /** The baseline this run was compared with (oct run --baseline), if any. */
  comparison?: unknown;
}

/** The HQ's counts, as it saved them in the run's summary. */
function intakeOf(raw: unknown): Summary['intake'] {
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  if (typeof o.malformed !== 'object' || o.malformed === null) return null;
  return {
    malformed: Object.fromEntries(Object.entries(o.malformed as Record<string, unknown>).map(([k, v]) => [k, n(v)])),
    duplicates: n(o.duplicates),
    missingBatches: n(o.missingBatches),
    lateResults: n(o.lateResults),
    droppedResults: n(o.droppedResults),
    resultsInRecoveryFile: n(o.resultsInRecoveryFile),
    refusedSeries: n(o.refusedSeries),
  };
}

function abortedByOf(raw: unknown): Summary['abortedBy'] {
  const a = (raw as { thresholds?: { abortedBy?: { key?: unknown; at?: unknown; detail?: unknown } | null } } | null)?.thresholds?.abortedBy;
  if (!a || typeof a.key !== 'string' || typeof a.at !== 'number' || typeof a.detail !== 'string') return null;
  return { key: a.key, at: a.at, detail: a.detail };
}

/** One line for a control action: "stop: reason", "target 20 → 40 iterations/s". */
function controlText(a: ControlAction): string {
  const d = a.detail;
  if (a.action === 'target') {
    const unit = d.model === 'open' ? ' iterations/s' : ' canons';
    const from = typeof d.from === 'number' ? `${Math.round(d.from * 100) / 100} → ` : '';
    return `target ${from}${String(d.to)}${unit}`;
  }
  return `stop${typeof d.reason === 'string' ? `: ${d.reason}` : ''}`;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function buildSummary(input: {
  run: RunInfo;
  stats: RunStats;
  thresholds: ThresholdVerdict;
  validity: Validity;
  load: LoadTimelineData | null;
  runTime: number;
  generatedAt?: Date;
  control?: ControlAction[];
  script?: ScriptMetrics;
}): Summary {
  const { run, stats } = input;
  const total = stats.series.find((s) => s.total)!;
  return {
    version: SUMMARY_VERSION,
    generatedAt: (input.generatedAt ?? new Date()).toISOString(),
    run: {
      id: run.id,
      name: run.name,
      state: run.state,
      startedAt: iso(run.startedAt),
      endedAt: iso(run.endedAt),
      runTime: input.runTime,
      interval: stats.interval,
      error: run.error,
    },
    totals: {
      transactions: total.overall.count,
      errors: total.overall.errors,
      errorRate: total.overall.count ? total.overall.errors / total.overall.count : 0,
      duration: stats.duration,
      throughput: total.overall.throughput,
      turrets: Math.max(stats.turrets.length, stats.turretBreakdown.length),
    },
    units: { latency: 'seconds', throughput: 'per second' },
    percentiles: stats.percentileMethod,
    series: stats.series,
    errors: { distinct: stats.distinctErrors, top: stats.errorsByMessage },
    checks: input.script?.checks ?? [],
    requests: input.script?.requests ?? [],
    turrets: stats.turrets,
    turretBreakdown: stats.turretBreakdown,
    thresholds: input.thresholds,
    verdict: !input.validity.valid ? 'INVALID' : input.thresholds.passed ? 'PASS' : 'FAIL',
    validity: input.validity,
    load: input.load
      ? {
          model: input.load.model,
          seconds: input.load.seconds,
          turrets: input.load.turrets.map((t) => ({ uuid: t.uuid, name: t.name, started: t.startedTotal, dropped: t.droppedTotal })),
          replans: input.load.replans,
        }
      : null,
    control: (input.control ?? []).map((a) => ({
      at: a.at.toISOString(),
      elapsed: a.elapsed,
      action: a.action,
      by: a.by,
      origin: a.origin,
      detail: a.detail,
      text: controlText(a),
    })),
    intake: intakeOf(run.summary),
    abortedBy: abortedByOf(run.summary),
    report: { html: null, seconds: null },
  };
}

// "2015-12-21 18:23:06", local time, as the original printed it.
function localTime(isoText: string | null): string {
  if (!isoText) return '—';
  const d = new Date(isoText);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The end-of-run text: totals, times, where the report is, and the thresholds table. */
export function printSummary(summary: Summary, write: (text: string) => void): void {
  const t = summary.totals;
  const lines = [
    '',
    `transactions: ${t.transactions}`,
    `errors: ${t.errors}${t.transactions ? ` (${(t.errorRate * 100).toFixed(2)}%)` : ''}`,
    `throughput: ${t.throughput.toFixed(2)}/s over ${t.duration.toFixed(1)} s`,
    '',
    `test start: ${localTime(summary.run.startedAt)}`,
    `test finish: ${localTime(summary.run.endedAt)}`,
    '',
  ];
  if (summary.report.seconds !== null) lines.push(`Report generated in ${summary.report.seconds.toFixed(3)} seconds`);
  if (summary.report.html) lines.push(`created: ${summary.report.html}`);
  write(`${lines.join('\n')}\n`);
  if (summary.checks.length)
    write(
      `\nchecks:\n${summary.checks.map((c) => `  ${(c.passRate * 100).toFixed(2).padStart(6)}%  ${c.name} (${c.fails} of ${c.passes + c.fails} failed)\n`).join('')}`,
    );
  if (summary.thresholds.results.length) write(`\n${formatThresholdsTable(summary.thresholds)}`);
  if (summary.abortedBy) write(`the run was stopped by threshold ${summary.abortedBy.key}: ${summary.abortedBy.detail}\n`);
  const v = summary.validity;
  if (v.judged) {
    const rate = v.achievedRate === null ? '' : `, ${v.achievedRate.toFixed(1)} started/s`;
    write(`\nload: ${v.started} iterations started, ${v.dropped} dropped (${(v.droppedRatio * 100).toFixed(2)}%)${rate}\n`);
    if (!v.valid) write(`verdict: INVALID — the load generator could not produce the planned load:\n${v.reasons.map((r) => `  - ${r}\n`).join('')}`);
  }
}
