// Metrics are read at scrape time from counters kept elsewhere (the aggregator, the HQ's own
// counts); this adapter lets a prom-client Registry read them, so the ingest loop never pays for
// prom-client's per-call label hashing. The Registry only needs `name` and `get()` from a metric.
import type { Metric, MetricType, MetricValue, Registry } from 'prom-client';
import type { LatencyHistogram } from '../protocol/histogram.ts';

export interface Sample {
  labels?: Record<string, string | number>;
  value: number;
  /** For histograms: name_bucket, name_sum, name_count. */
  metricName?: string;
}

export class CollectedMetric {
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly collect: () => Sample[],
  ) {}

  async get(): Promise<{ name: string; help: string; type: MetricType; aggregator: 'sum'; values: MetricValue<string>[] }> {
    return {
      name: this.name,
      help: this.help,
      type: this.type as unknown as MetricType,
      aggregator: this.aggregator,
      values: this.collect().map((s) => ({ labels: s.labels ?? {}, value: s.value, metricName: s.metricName })) as MetricValue<string>[],
    };
  }

  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric<string>);
    return this;
  }
}

/**
 * A latency histogram in the exposition's form: cumulative counts with `le` as Prometheus writes
 * it. A bound inside a histogram bucket counts that whole bucket (at most 0.8% of the bound above it).
 */
export function histogramSamples(name: string, labels: Record<string, string>, hist: LatencyHistogram, bounds: ArrayLike<number>): Sample[] {
  const cumulative = hist.cumulativeAt(bounds);
  const out: Sample[] = [];
  for (let b = 0; b < bounds.length; b++) out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bounds[b]! }, value: cumulative[b]! });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: hist.count });
  out.push({ metricName: `${name}_sum`, labels, value: hist.count * hist.mean });
  out.push({ metricName: `${name}_count`, labels, value: hist.count });
  return out;
}
