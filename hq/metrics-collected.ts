// Hot-path metrics keep their own plain counters (see metrics.ts); this adapter lets a prom-client
// Registry read them at scrape time, so the ingest loop never pays for prom-client's per-call label
// hashing. The Registry only needs `name` and `get()` from a metric.
import type { Metric, MetricType, MetricValue, Registry } from 'prom-client';

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
 * A histogram counted by hand: `counts[b]` is the number of observations in bucket b (not
 * cumulative; the last slot is +Inf). Callers increment it in their own loops.
 */
export class BucketCounts {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Cumulative samples in the exposition's form, with `le` as Prometheus writes it. */
  samples(name: string, labels: Record<string, string>): Sample[] {
    const out: Sample[] = [];
    let acc = 0;
    for (let b = 0; b < this.bounds.length; b++) {
      acc += this.counts[b]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: this.bounds[b]! }, value: acc });
    }
    acc += this.counts[this.bounds.length]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: acc });
    out.push({ metricName: `${name}_sum`, labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels, value: this.count });
    return out;
  }
}
