// Two runs side by side: per series p50/p95/p99, throughput and error rate, with deltas, and their
// time series aligned for overlaid charts. `oct compare A B` prints and writes it (compare.html);
// `oct run --baseline RUN` puts it in the report and judges relative thresholds ("p95": "<+10%")
// against the baseline. Figures come from the report's own statistics (report/generate.ts runStats).
import type { RunInfo } from '../store/types.ts';
import type { RunStats, SeriesStats } from './stats.ts';

export class CompareError extends Error {}

export interface RunFigures {
  label: string;
  run: RunInfo;
  stats: RunStats;
}

export interface Figures {
  count: number;
  errors: number;
  errorRate: number;
  throughput: number;
  /** Seconds. */
  mean: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

const METRICS = ['p50', 'p95', 'p99', 'mean', 'throughput', 'errorRate'] as const;
type DeltaMetric = (typeof METRICS)[number];

export interface SeriesComparison {
  name: string;
  /** Null when the series is absent from that run. */
  a: Figures | null;
  b: Figures | null;
  /** B against A, relative: (b − a) / a; null when either is missing or a is 0. */
  delta: Record<DeltaMetric, number | null>;
  /** Overlaid time series: bin midpoints (seconds since start) with A's and B's values (ms, /s), null where a run has no bin. */
  timeline: {
    t: number[];
    aP95: (number | null)[];
    bP95: (number | null)[];
    aP50: (number | null)[];
    bP50: (number | null)[];
    aTps: (number | null)[];
    bTps: (number | null)[];
  };
}

export interface Comparison {
  a: { label: string; id: number; name: string; startedAt: string | null };
  b: { label: string; id: number; name: string; startedAt: string | null };
  series: SeriesComparison[];
  /** Series in one run only. */
  onlyA: string[];
  onlyB: string[];
}

function figures(s: SeriesStats): Figures {
  const o = s.overall;
  return {
    count: o.count,
    errors: o.errors,
    errorRate: o.count ? o.errors / o.count : 0,
    throughput: o.throughput,
    mean: o.mean,
    p50: o.p50,
    p95: o.p95,
    p99: o.p99,
  };
}

function rel(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (a === 0) return b === 0 ? 0 : null;
  return (b - a) / a;
}

function timeline(a: SeriesStats | undefined, b: SeriesStats | undefined): SeriesComparison['timeline'] {
  const mid = (x: { start: number; end: number }) => Math.round(((x.start + x.end) / 2) * 1000) / 1000;
  const ts = [...new Set([...(a?.bins ?? []).map(mid), ...(b?.bins ?? []).map(mid)])].sort((x, y) => x - y);
  const pick = (s: SeriesStats | undefined, f: (bin: SeriesStats['bins'][number]) => number | null) => {
    const by = new Map((s?.bins ?? []).map((x) => [mid(x), x]));
    return ts.map((t) => {
      const bin = by.get(t);
      return bin ? f(bin) : null;
    });
  };
  const ms = (v: number | null) => (v === null ? null : Math.round(v * 1e6) / 1e3);
  return {
    t: ts,
    aP95: pick(a, (x) => ms(x.p95)),
    bP95: pick(b, (x) => ms(x.p95)),
    aP50: pick(a, (x) => ms(x.p50)),
    bP50: pick(b, (x) => ms(x.p50)),
    aTps: pick(a, (x) => x.throughput),
    bTps: pick(b, (x) => x.throughput),
  };
}

/** A (the baseline) against B. */
export function compareStats(a: RunFigures, b: RunFigures): Comparison {
  const key = (s: SeriesStats) => (s.total ? '\u0000total' : s.name);
  const aBy = new Map(a.stats.series.map((s) => [key(s), s]));
  const bBy = new Map(b.stats.series.map((s) => [key(s), s]));
  const keys = [...new Set([...aBy.keys(), ...bBy.keys()])];
  const series: SeriesComparison[] = keys.map((k) => {
    const sa = aBy.get(k);
    const sb = bBy.get(k);
    const fa = sa ? figures(sa) : null;
    const fb = sb ? figures(sb) : null;
    const delta = Object.fromEntries(METRICS.map((m) => [m, rel(fa?.[m], fb?.[m])])) as Record<DeltaMetric, number | null>;
    return { name: (sa ?? sb)!.name, a: fa, b: fb, delta, timeline: timeline(sa, sb) };
  });
  const head = (r: RunFigures) => ({ label: r.label, id: r.run.id, name: r.run.name, startedAt: r.run.startedAt?.toISOString() ?? null });
  return {
    a: head(a),
    b: head(b),
    series,
    onlyA: series.filter((s) => !s.b).map((s) => s.name),
    onlyB: series.filter((s) => !s.a).map((s) => s.name),
  };
}

/** `oct compare` compares like with like: runs whose series differ are refused, naming them. */
export function assertSameSeries(c: Comparison): void {
  if (!c.onlyA.length && !c.onlyB.length) return;
  const parts = [];
  if (c.onlyA.length) parts.push(`only in ${c.a.label}: ${c.onlyA.join(', ')}`);
  if (c.onlyB.length) parts.push(`only in ${c.b.label}: ${c.onlyB.join(', ')}`);
  throw new CompareError(`the runs have different series (${parts.join('; ')}); compare runs of the same test`);
}

const msText = (v: number | null) => (v === null ? '—' : `${(v * 1000).toFixed(v * 1000 >= 100 ? 0 : 2)}ms`);
const pctText = (v: number | null) => (v === null ? '—' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);

/** The comparison as an aligned table for a terminal. */
export function formatComparison(c: Comparison): string {
  const head = ['series', 'metric', 'A', 'B', 'delta'];
  const rows: string[][] = [];
  for (const s of c.series) {
    if (!s.a || !s.b) continue;
    const line = (metric: string, a: string, b: string, d: number | null) => rows.push([s.name, metric, a, b, pctText(d)]);
    line('p50', msText(s.a.p50), msText(s.b.p50), s.delta.p50);
    line('p95', msText(s.a.p95), msText(s.b.p95), s.delta.p95);
    line('p99', msText(s.a.p99), msText(s.b.p99), s.delta.p99);
    line('throughput', `${s.a.throughput.toFixed(2)}/s`, `${s.b.throughput.toFixed(2)}/s`, s.delta.throughput);
    line('error rate', `${(s.a.errorRate * 100).toFixed(2)}%`, `${(s.b.errorRate * 100).toFixed(2)}%`, s.delta.errorRate);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((x, i) => (i >= 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `A: ${c.a.label}\nB: ${c.b.label}\n${[fmt(head), ...rows.map(fmt)].join('\n')}\n`;
}
