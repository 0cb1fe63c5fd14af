// Thresholds: the config's pass/fail criteria, parsed once (so `oct run` fails before the test, on
// a typo) and evaluated over the merged results of every turret.
//
//   "thresholds": { "p95": "<500ms", "error_rate": "<1%", "throughput": ">100/s",
//                   "Example_Timer": { "p99": "<2s" } }
//
// A top-level metric applies to "All transactions"; an object applies to the series of that name
// (a custom timer, or "All transactions" itself).
//
// Live (docs/statistics.md): the HQ evaluates every threshold each second while the test runs.
// "<500ms over 30s" holds over every sliding 30 s window instead of the whole run; the object form
// {"threshold": "<1%", "abort_on_fail": true, "delay_abort_eval": "10s"} stops the whole run at the
// first breach (after the delay), and the run fails its thresholds.
//
// Checks (ctx.check): "checks": {"login ok": ">99%"} judges a check's pass rate; it is the series
// "check: login ok" with the metric pass_rate, so {"check: login ok": {"pass_rate": ">99% over 30s"}} is the same.
import { ConfigError } from '../protocol/config.ts';
import { checkSeries, isCheckSeries } from '../protocol/series-names.ts';
import type { CheckStats } from './script-metrics.ts';
import { ALL_TRANSACTIONS_SERIES, INTENDED_LATENCY_SERIES } from '../protocol/results.ts';
import type { LatencyHistogram } from '../protocol/histogram.ts';
import type { SeriesStats } from './stats.ts';
import type { Validity } from './validity.ts';

const LATENCY = ['p50', 'p80', 'p90', 'p95', 'p99', 'mean', 'max', 'min'] as const;
/** Planned runs: measured on the load the turrets produced, not on a series. */
const LOAD_METRICS = ['dropped_iterations', 'achieved_rate'] as const;
export const METRICS = [...LATENCY, 'error_rate', 'pass_rate', 'errors', 'count', 'transactions', 'throughput', ...LOAD_METRICS] as const;
/** The key whose object names checks: {"checks": {"login ok": ">99%"}}. */
const CHECKS_KEY = 'checks';
/** Top-level shorthands for the latency from the intended start: "intended_p99": "<500ms". */
const INTENDED_PREFIX = 'intended_';
/** The pseudo-series load metrics are reported under. */
export const LOAD_SERIES = 'Load';
export type Metric = (typeof METRICS)[number];
type Op = '<' | '<=' | '>' | '>=' | '==';

export interface Threshold {
  /** Where it came from in config.json, e.g. `p95` or `Example_Timer.p99`. */
  key: string;
  series: string;
  metric: Metric;
  op: Op;
  /** In base units: seconds for latencies, a fraction for error_rate, per second for throughput. */
  limit: number;
  /** As written, e.g. `<500ms`. */
  expression: string;
  /** Seconds of the sliding window ("over 30s"); null for the whole run. */
  window: number | null;
  /** Stop every turret at the first breach seen live. */
  abortOnFail: boolean;
  /** Seconds of test time before a breach may abort (early seconds are noisy). */
  delayAbortEval: number;
  /** Relative to the baseline run ("<+10%": 0.1): the limit is the baseline's value × (1 + this). */
  relative?: number;
}

export interface ThresholdResult extends Threshold {
  actual: number | null;
  passed: boolean;
  /** One line for humans: the measured value against the limit, or why there is none. */
  detail: string;
}

export interface ThresholdVerdict {
  passed: boolean;
  results: ThresholdResult[];
}

const isLatency = (m: Metric) => (LATENCY as readonly string[]).includes(m);
const EXPR = /^\s*(<=|>=|==|=|<|>)\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e([+-]?[0-9]+))?\s*(ms|s|%|\/s)?(?:\s+over\s+([0-9]+)\s*(s|m))?\s*$/i;
/** Relative to the baseline run: "<+10%", "<=-5%", ">-20%". */
const RELATIVE = /^\s*(<=|>=|<|>)\s*([+-])\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*%\s*$/;
const DURATION = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)\s*$/i;
/** Longest sliding window: the HQ keeps that many seconds of histograms per watched series. */
export const MAX_WINDOW_SECONDS = 600;
const SPEC_KEYS = new Set(['threshold', 'abort_on_fail', 'delay_abort_eval']);

type Parsed = Omit<Threshold, 'key' | 'series' | 'metric'>;

/** A threshold's value: "<500ms [over 30s]", or {"threshold": "...", "abort_on_fail": true, "delay_abort_eval": "10s"}. */
function parseSpec(key: string, metric: Metric, value: unknown, issues: string[]): Parsed | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return parseExpression(key, metric, value, issues);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!SPEC_KEYS.has(k)) issues.push(`thresholds.${key}.${k}: unknown key; one of ${[...SPEC_KEYS].join(', ')}`);
  const parsed = parseExpression(`${key}.threshold`, metric, o.threshold, issues);
  if (o.abort_on_fail !== undefined && typeof o.abort_on_fail !== 'boolean') issues.push(`thresholds.${key}.abort_on_fail: expected true or false`);
  let delay = 0;
  if (o.delay_abort_eval !== undefined) {
    const m = typeof o.delay_abort_eval === 'string' ? DURATION.exec(o.delay_abort_eval) : null;
    if (!m) issues.push(`thresholds.${key}.delay_abort_eval: expected a duration such as "10s", got ${JSON.stringify(o.delay_abort_eval)}`);
    else delay = Number(m[1]) * (m[2]!.toLowerCase() === 'ms' ? 0.001 : m[2]!.toLowerCase() === 'm' ? 60 : 1);
  }
  if (!parsed) return null;
  if (parsed.relative !== undefined && o.abort_on_fail === true) {
    issues.push(`thresholds.${key}.abort_on_fail: a threshold relative to the baseline is judged after the run, it cannot abort it`);
    return null;
  }
  return { ...parsed, abortOnFail: o.abort_on_fail === true, delayAbortEval: delay };
}

// A check's pass rate is not compared with the baseline's (its checks are not kept with the
// comparison): refused when the config is read rather than failing every run after it.
function notRelativeCheck(key: string, parsed: Parsed, issues: string[]): boolean {
  if (parsed.relative === undefined) return true;
  issues.push(`thresholds.${key}: "${parsed.expression}": a check's pass rate cannot be relative to a baseline; give a rate such as ">99%"`);
  return false;
}

function parseExpression(key: string, metric: Metric, text: unknown, issues: string[]): Parsed | null {
  if (typeof text !== 'string') {
    issues.push(`thresholds.${key}: expected a string such as "<500ms", got ${JSON.stringify(text)}`);
    return null;
  }
  const rel = RELATIVE.exec(text);
  if (rel) {
    if ((LOAD_METRICS as readonly string[]).includes(metric)) {
      issues.push(`thresholds.${key}: "${text}": ${metric} cannot be relative to a baseline`);
      return null;
    }
    const relative = (rel[2] === '-' ? -1 : 1) * (Number(rel[3]) / 100);
    return { op: rel[1] as Op, limit: Number.NaN, expression: text.trim(), window: null, abortOnFail: false, delayAbortEval: 0, relative };
  }
  const m = EXPR.exec(text);
  if (!m) {
    issues.push(`thresholds.${key}: "${text}" is not a comparison; write an operator (<, <=, >, >=) then a number and unit, e.g. "<500ms"`);
    return null;
  }
  const op = (m[1] === '=' ? '==' : m[1]) as Op;
  const n = Number(`${m[2]}${m[3] ? `e${m[3]}` : ''}`);
  const unit = (m[4] ?? '').toLowerCase();
  let limit: number;
  if (isLatency(metric)) {
    if (unit !== 'ms' && unit !== 's') {
      issues.push(`thresholds.${key}: "${text}" needs a time unit, "ms" or "s" (e.g. "<500ms")`);
      return null;
    }
    limit = unit === 'ms' ? n / 1000 : n;
  } else if (metric === 'error_rate' || metric === 'pass_rate') {
    if (unit !== '%') {
      issues.push(`thresholds.${key}: "${text}" needs a percentage (e.g. "<1%")`);
      return null;
    }
    limit = n / 100;
  } else if (metric === 'throughput' || metric === 'achieved_rate') {
    if (unit !== '/s' && unit !== '') {
      issues.push(`thresholds.${key}: "${text}" is a rate: transactions per second, e.g. ">100/s"`);
      return null;
    }
    limit = n;
  } else {
    if (unit !== '') {
      issues.push(`thresholds.${key}: "${text}" is a count and takes no unit (e.g. "<10")`);
      return null;
    }
    limit = n;
  }
  let window: number | null = null;
  if (m[5]) {
    window = Number(m[5]) * (m[6]!.toLowerCase() === 'm' ? 60 : 1);
    if (window < 1 || window > MAX_WINDOW_SECONDS) {
      issues.push(`thresholds.${key}: "${text}": a window lasts 1 s to ${MAX_WINDOW_SECONDS / 60} min`);
      return null;
    }
    if ((LOAD_METRICS as readonly string[]).includes(metric)) {
      issues.push(`thresholds.${key}: "${text}": ${metric} is judged over the whole run, not over a window`);
      return null;
    }
  }
  return { op, limit, expression: text.trim(), window, abortOnFail: false, delayAbortEval: 0 };
}

function metricOf(key: string, name: string, issues: string[]): Metric | null {
  if ((METRICS as readonly string[]).includes(name)) return name as Metric;
  issues.push(`thresholds.${key}: unknown metric "${name}"; one of ${METRICS.join(', ')}`);
  return null;
}

/** Parses the config's `thresholds`; every problem is listed in one ConfigError naming its key. */
export function parseThresholds(raw: unknown, source = 'config.json'): Threshold[] {
  if (raw === undefined || raw === null) return [];
  const issues: string[] = [];
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['thresholds: expected an object such as {"p95": "<500ms"}']);
  const out: Threshold[] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === CHECKS_KEY) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        issues.push(`thresholds.checks: expected an object of check names and pass rates, e.g. {"login ok": ">99%"}`);
        continue;
      }
      for (const [check, expr] of Object.entries(value as Record<string, unknown>)) {
        const key = `checks.${check}`;
        const parsed = parseSpec(key, 'pass_rate', expr, issues);
        if (parsed && notRelativeCheck(key, parsed, issues)) out.push({ key, series: checkSeries(check), metric: 'pass_rate', ...parsed });
      }
      continue;
    }
    const isSpec = value !== null && typeof value === 'object' && !Array.isArray(value) && 'threshold' in value;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !isSpec) {
      for (const [metricName, expr] of Object.entries(value as Record<string, unknown>)) {
        const key = `${name}.${metricName}`;
        const metric = metricOf(key, metricName, issues);
        if (!metric) continue;
        const parsed = parseSpec(key, metric, expr, issues);
        if (parsed && (!isCheckSeries(name) || notRelativeCheck(key, parsed, issues))) out.push({ key, series: name, metric, ...parsed });
      }
      continue;
    }
    if (name.startsWith(INTENDED_PREFIX) && (LATENCY as readonly string[]).includes(name.slice(INTENDED_PREFIX.length))) {
      const metric = name.slice(INTENDED_PREFIX.length) as Metric;
      const parsed = parseSpec(name, metric, value, issues);
      if (parsed) out.push({ key: name, series: INTENDED_LATENCY_SERIES, metric, ...parsed });
      continue;
    }
    if (!(METRICS as readonly string[]).includes(name)) {
      issues.push(
        typeof value === 'string' || isSpec
          ? `thresholds.${name}: unknown metric "${name}"; one of ${METRICS.join(', ')} (for a custom timer write {"${name}": {"p95": "${value}"}})`
          : `thresholds.${name}: expected a string such as "<500ms" or an object of per-series thresholds`,
      );
      continue;
    }
    const metric = name as Metric;
    const parsed = parseSpec(name, metric, value, issues);
    const series = (LOAD_METRICS as readonly string[]).includes(metric) ? LOAD_SERIES : ALL_TRANSACTIONS_SERIES;
    if (parsed) out.push({ key: name, series, metric, ...parsed });
  }
  if (issues.length) throw new ConfigError(source, issues);
  return out;
}

function measure(s: SeriesStats, metric: Metric): number | null {
  const o = s.overall;
  switch (metric) {
    case 'error_rate':
      return o.count ? o.errors / o.count : 0;
    case 'pass_rate':
      return o.count ? 1 - o.errors / o.count : null;
    case 'errors':
      return o.errors;
    case 'count':
    case 'transactions':
      return o.count;
    case 'throughput':
      return o.throughput;
    case 'dropped_iterations':
    case 'achieved_rate':
      return null;
    default:
      return o[metric];
  }
}

/** A series over some span of the run: what a threshold is measured on, live or after the run. */
export interface MeasuredSpan {
  hist: LatencyHistogram;
  errors: number;
  seconds: number;
}

/** A threshold's metric over a span (null: nothing to measure, or a metric of the load). */
export function measureSpan(w: MeasuredSpan, metric: Metric): number | null {
  const n = w.hist.count;
  switch (metric) {
    case 'error_rate':
      return n ? w.errors / n : 0;
    case 'pass_rate':
      return n ? 1 - w.errors / n : null;
    case 'errors':
      return w.errors;
    case 'count':
    case 'transactions':
      return n;
    case 'throughput':
      return w.seconds > 0 ? n / w.seconds : 0;
    case 'dropped_iterations':
    case 'achieved_rate':
      return null;
    case 'mean':
      return n ? w.hist.mean : null;
    case 'min':
      return n ? w.hist.min : null;
    case 'max':
      return n ? w.hist.max : null;
    default:
      return w.hist.percentile(Number(metric.slice(1)) / 100);
  }
}

export function passes(t: Threshold, actual: number): boolean {
  return compare(actual, t.op, t.limit);
}

const compare = (a: number, op: Op, b: number) => (op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : op === '>=' ? a >= b : a === b);

/** Formats a value in the threshold's own terms (ms, %, /s). */
export function formatMetric(metric: Metric, v: number | null): string {
  if (v === null) return '—';
  if (isLatency(metric)) return v < 1 ? `${+(v * 1000).toFixed(2)}ms` : `${+v.toFixed(3)}s`;
  if (metric === 'error_rate' || metric === 'pass_rate') return `${+(v * 100).toFixed(3)}%`;
  if (metric === 'throughput' || metric === 'achieved_rate') return `${+v.toFixed(2)}/s`;
  return String(v);
}

/** What was judged outside the final series: live breaches, windows, the threshold that aborted. */
export interface ThresholdEvidence {
  /** Windowed thresholds judged over the stored seconds (report/window-thresholds.ts). */
  windows?: Map<string, { actual: number; passed: boolean; at: number }>;
  /** The HQ's live record, from the run's summary. */
  /** The baseline run's series, for relative thresholds ("<+10%"). */
  baseline?: { label: string; series: SeriesStats[] };
  live?: { breaches: { key: string; at: number; actual: number; detail: string }[]; abortedBy: { key: string; at: number; detail: string } | null };
  /** Pass rates of the script's checks (report/script-metrics.ts): checks are not in the series list. */
  checks?: CheckStats[];
}

export function evaluateThresholds(thresholds: Threshold[], series: SeriesStats[], validity?: Validity, evidence: ThresholdEvidence = {}): ThresholdVerdict {
  const results = thresholds.map((t): ThresholdResult => {
    const judged = judgeOne(t, series, validity, evidence);
    const aborted = evidence.live?.abortedBy?.key === t.key ? evidence.live.abortedBy : null;
    if (aborted) return { ...judged, passed: false, detail: `aborted the run at ${aborted.at.toFixed(1)} s: ${aborted.detail}` };
    const breach = evidence.live?.breaches.find((b) => b.key === t.key);
    // A window that failed live fails the run even if the stored seconds, cut differently, pass.
    if (breach && t.window !== null && judged.passed) return { ...judged, passed: false, actual: breach.actual, detail: `failed live: ${breach.detail}` };
    return judged;
  });
  return { passed: results.every((r) => r.passed), results };
}

function judgeOne(t: Threshold, series: SeriesStats[], validity: Validity | undefined, evidence: ThresholdEvidence): ThresholdResult {
  if (t.series === LOAD_SERIES) {
    if (!validity?.judged) return { ...t, actual: null, passed: false, detail: `${t.metric} needs a planned run ("stages" or "rate")` };
    const actual = t.metric === 'dropped_iterations' ? validity.dropped : validity.achievedRate;
    if (actual === null) return { ...t, actual, passed: false, detail: `no load reported to measure ${t.metric}` };
    const passed = compare(actual, t.op, t.limit);
    return { ...t, actual, passed, detail: `${t.metric} = ${formatMetric(t.metric, actual)}, limit ${t.expression}` };
  }
  if (t.window !== null) {
    const w = evidence.windows?.get(t.key);
    if (!w) return { ...t, actual: null, passed: false, detail: `no seconds of "${t.series}" to judge ${t.metric} over ${t.window} s windows` };
    const what = w.passed ? `worst ${t.window} s window` : `the ${t.window} s window ending at ${w.at} s`;
    return { ...t, actual: w.actual, passed: w.passed, detail: `${t.metric} = ${formatMetric(t.metric, w.actual)} in ${what}, limit ${t.expression}` };
  }
  if (isCheckSeries(t.series)) {
    const c = evidence.checks?.find((x) => checkSeries(x.name) === t.series);
    if (!c || c.passes + c.fails === 0) return { ...t, actual: null, passed: false, detail: `no evaluations of ${t.series} to measure pass_rate` };
    const n = c.passes + c.fails;
    const actual =
      t.metric === 'pass_rate' ? c.passRate : t.metric === 'error_rate' ? c.fails / n : t.metric === 'errors' ? c.fails : t.metric === 'count' ? n : null;
    if (actual === null) return { ...t, actual, passed: false, detail: `${t.metric} does not apply to a check; use pass_rate` };
    const passed = compare(actual, t.op, t.limit);
    return {
      ...t,
      actual,
      passed,
      detail: `${t.metric} = ${formatMetric(t.metric, actual)} (${c.fails} of ${c.passes + c.fails} failed), limit ${t.expression}`,
    };
  }
  const find = (list: SeriesStats[]) => (t.series === ALL_TRANSACTIONS_SERIES ? list.find((x) => x.total) : list.find((x) => !x.total && x.name === t.series));
  const s = find(series);
  if (!s) return { ...t, actual: null, passed: false, detail: `no series "${t.series}" in the results` };
  const actual = measure(s, t.metric);
  if (actual === null) return { ...t, actual, passed: false, detail: `no transactions in "${t.series}" to measure ${t.metric}` };
  if (t.relative !== undefined) {
    const b = evidence.baseline;
    if (!b)
      return { ...t, actual, passed: false, detail: `"${t.expression}" is relative to a baseline: run with --baseline RUN (or "baseline" in config.json)` };
    const bs = find(b.series);
    const base = bs ? measure(bs, t.metric) : null;
    if (base === null) return { ...t, actual, passed: false, detail: `the baseline (${b.label}) has no "${t.series}" to compare ${t.metric} with` };
    const limit = base * (1 + t.relative);
    const passed = compare(actual, t.op, limit);
    const pct = base !== 0 ? `${actual >= base ? '+' : ''}${(((actual - base) / base) * 100).toFixed(1)}%` : 'n/a';
    return {
      ...t,
      limit,
      actual,
      passed,
      detail: `${t.metric} = ${formatMetric(t.metric, actual)} (${pct} against the baseline's ${formatMetric(t.metric, base)}), limit ${t.expression} = ${formatMetric(t.metric, limit)}`,
    };
  }
  const passed = compare(actual, t.op, t.limit);
  return { ...t, actual, passed, detail: `${t.metric} = ${formatMetric(t.metric, actual)}, limit ${t.expression}` };
}

/** The pass/fail table for a terminal (plain text, aligned). */
export function formatThresholdsTable(verdict: ThresholdVerdict): string {
  if (!verdict.results.length) return 'thresholds: none configured\n';
  const rows = verdict.results.map((r) => [r.passed ? 'PASS' : 'FAIL', r.series, r.metric, r.expression, formatMetric(r.metric, r.actual)]);
  const head = ['', 'series', 'metric', 'threshold', 'actual'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const failed = verdict.results.filter((r) => !r.passed).length;
  return `${[
    line(head),
    ...rows.map(line),
    failed ? `thresholds: ${failed} of ${verdict.results.length} failed` : `thresholds: all ${verdict.results.length} passed`,
  ].join('\n')}\n`;
}
