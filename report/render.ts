// results.html: one self-contained page rendered with handlebars. The template is the project's
// `templates/report.html` when it has one, else the default shipped beside this file. Everything a
// user wrote reaches the page either through {{ }} (HTML-escaped) or through {{{json data}}}, whose
// output cannot close the <script> element it sits in.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { Summary } from './summary.ts';
import { formatMetric, type Metric } from './thresholds.ts';

export const DEFAULT_TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), 'templates', 'report.html');

export function templatePath(projectDir?: string): string {
  if (projectDir) {
    const own = join(projectDir, 'templates', 'report.html');
    if (existsSync(own)) return own;
  }
  return DEFAULT_TEMPLATE;
}

/**
 * JSON for an inline <script>: `<`, `>` and `&` become \u escapes, so no `</script>` or `<!--` can
 * appear, and U+2028/U+2029 are escaped for older JavaScript parsers. JSON.parse reads it back as-is.
 */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function ms(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  const m = v * 1000;
  return m >= 100 ? m.toFixed(0) : m >= 10 ? m.toFixed(1) : m.toFixed(2);
}

function localTime(v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') return '—';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) return '—';
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

function makeEngine(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('json', (v: unknown) => new hb.SafeString(inlineJson(v)));
  hb.registerHelper('ms', ms);
  hb.registerHelper('num', (v: unknown, digits: unknown) =>
    typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: typeof digits === 'number' ? digits : 2 }) : '—',
  );
  hb.registerHelper('pct', (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '—'));
  hb.registerHelper('time', localTime);
  hb.registerHelper('clock', (v: unknown) => localTime(v).replace(/^\S+ /, ''));
  hb.registerHelper('secs', (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(1)} s` : '—'));
  hb.registerHelper('fmtMetric', (metric: unknown, v: unknown) => formatMetric(metric as Metric, typeof v === 'number' ? v : null));
  hb.registerHelper('isnum', (v: unknown) => typeof v === 'number' && Number.isFinite(v));
  hb.registerHelper('delta', (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%` : '—'));
  // sign 1: higher is worse (latency, errors); -1: lower is worse (throughput). Within ±2% is noise.
  hb.registerHelper('deltaClass', (v: unknown, sign: unknown) =>
    typeof v === 'number' && Number.isFinite(v) && Math.abs(v) > 0.02 ? (v * (sign as number) > 0 ? 'worse' : 'better') : '',
  );
  hb.registerPartial('comparison', readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'templates', 'comparison.html'), 'utf8'));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('gt', (a: unknown, b: unknown) => typeof a === 'number' && typeof b === 'number' && a > b);
  return hb;
}

export interface ReportView {
  title: string;
  summary: Summary;
  octVersion: string;
  /** The chart library and oct's chart code, inline (report/chart-assets.ts): `{{{chartAssets}}}` in a template. */
  chartAssets?: string;
}

export function renderReport(view: ReportView, template: string): string {
  const hb = makeEngine();
  return hb.compile(template, { strict: false })(view);
}

/** The standalone comparison page of `oct compare` (compare.html). */
export function renderComparisonPage(view: { title: string; comparison: unknown; octVersion: string; chartAssets: string }): string {
  return renderReport(view as unknown as ReportView, readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'templates', 'compare.html'), 'utf8'));
}

export function renderReportFile(view: ReportView, path: string): string {
  return renderReport(view, readFileSync(path, 'utf8'));
}
