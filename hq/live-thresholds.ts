// Thresholds judged while the test runs, twice a second, from the aggregator: over the run so far,
// or over a sliding window ("<500ms over 30s"). The first breach of each is remembered (when, and
// the value), and one with `abort_on_fail` asks the lifecycle to stop the whole run — every turret,
// not one runner as k6's abortOnFail does under k6-operator.
import { formatMetric, LOAD_SERIES, measureSpan, passes, type Threshold } from '../report/thresholds.ts';
import type { Aggregator } from './aggregator.ts';

export interface Breach {
  key: string;
  expression: string;
  /** Seconds since the start of the test. */
  at: number;
  actual: number;
  detail: string;
}

/** What the run's summary keeps: the first breach of each threshold, and the one that aborted. */
export interface LiveThresholdRecord {
  breaches: Breach[];
  abortedBy: Breach | null;
}

export class LiveThresholds {
  private readonly breaches = new Map<string, Breach>();
  private aborted: Breach | null = null;
  private readonly judged: Threshold[];

  constructor(
    thresholds: Threshold[],
    private readonly stats: Aggregator,
  ) {
    // Load metrics are known only from the turrets' load reports at the end.
    // Relative thresholds ("<+10%") need the baseline's figures: they are judged with the report only.
    this.judged = thresholds.filter((t) => t.series !== LOAD_SERIES && t.relative === undefined);
    for (const t of this.judged) if (t.window !== null) stats.watch(t.series);
  }

  /** Longest window asked for, so the aggregator keeps enough seconds. */
  static longestWindow(thresholds: Threshold[]): number {
    return Math.max(0, ...thresholds.map((t) => t.window ?? 0));
  }

  /**
   * Judges every threshold at `elapsed` seconds of test time; returns the breach that should stop
   * the run (once), else null.
   */
  tick(elapsed: number): Breach | null {
    if (elapsed < 1) return null;
    let abort: Breach | null = null;
    for (const t of this.judged) {
      const span = this.span(t, elapsed);
      if (!span || span.hist.count === 0) continue;
      const actual = measureSpan(span, t.metric);
      if (actual === null || passes(t, actual)) continue;
      const over = t.window === null ? 'over the run so far' : `over the last ${span.seconds} s`;
      const breach: Breach = {
        key: t.key,
        expression: t.expression,
        at: elapsed,
        actual,
        detail: `${t.metric} = ${formatMetric(t.metric, actual)} ${over} at ${elapsed.toFixed(1)} s, limit ${t.expression}`,
      };
      if (!this.breaches.has(t.key)) this.breaches.set(t.key, breach);
      if (t.abortOnFail && !this.aborted && elapsed >= t.delayAbortEval) abort ??= breach;
    }
    if (abort) this.aborted = abort;
    return abort;
  }

  record(): LiveThresholdRecord {
    return { breaches: [...this.breaches.values()], abortedBy: this.aborted };
  }

  private span(t: Threshold, elapsed: number) {
    if (t.window === null) {
      const hist = this.stats.series(t.series);
      return hist ? { hist, errors: this.stats.seriesErrors(t.series), seconds: elapsed } : null;
    }
    const w = this.stats.window(t.window);
    const s = w.series(t.series);
    return s ? { ...s, seconds: w.seconds } : null;
  }
}
