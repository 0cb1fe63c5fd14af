// Thresholds over sliding windows ("<500ms over 30s"), judged after the run from the stored
// per-second deltas: every window of that many consecutive seconds of test time that holds data.
// The HQ judges them live too (hq/live-thresholds.ts); the report fails a threshold either saw fail.
import { LatencyHistogram } from '../protocol/histogram.ts';
import type { AggregateRow } from '../store/types.ts';
import { measureSpan, passes, type Threshold } from './thresholds.ts';

export interface WindowResult {
  /** The first failing window's value, else the worst one seen. */
  actual: number;
  passed: boolean;
  /** End of that window, seconds of test time. */
  at: number;
}

export function judgeWindows(thresholds: Threshold[], rows: AggregateRow[]): Map<string, WindowResult> {
  const out = new Map<string, WindowResult>();
  const windowed = thresholds.filter((t) => t.window !== null);
  if (!windowed.length) return out;
  const bySeries = new Map<string, Map<number, { hist: LatencyHistogram; errors: number }>>();
  for (const r of rows) {
    if (!windowed.some((t) => t.series === r.series)) continue;
    let seconds = bySeries.get(r.series);
    if (!seconds) bySeries.set(r.series, (seconds = new Map()));
    let s = seconds.get(r.second);
    if (!s) seconds.set(r.second, (s = { hist: new LatencyHistogram(), errors: 0 }));
    s.hist.addEncoded(r.hist);
    s.errors += r.errors;
  }
  for (const t of windowed) {
    const seconds = bySeries.get(t.series);
    if (!seconds) continue;
    const w = t.window!;
    const keys = [...seconds.keys()];
    const first = Math.min(...keys);
    const last = Math.max(...keys);
    let result: WindowResult | null = null;
    // Windows end at every second from the first full one (or the last second, for a short run).
    for (let end = Math.min(first + w - 1, last); end <= last; end++) {
      const span = { hist: new LatencyHistogram(), errors: 0, seconds: Math.min(w, end - first + 1) };
      for (let s = end - w + 1; s <= end; s++) {
        const part = seconds.get(s);
        if (part) {
          span.hist.add(part.hist);
          span.errors += part.errors;
        }
      }
      if (span.hist.count === 0) continue;
      const actual = measureSpan(span, t.metric);
      if (actual === null) continue;
      const ok = passes(t, actual);
      if (!ok) {
        result = { actual, passed: false, at: end + 1 };
        break;
      }
      const worse = result === null || (t.op.startsWith('<') ? actual > result.actual : actual < result.actual);
      if (worse) result = { actual, passed: true, at: end + 1 };
    }
    if (result) out.set(t.key, result);
  }
  return out;
}
