// HqMetrics attached to an aggregator, fed as the ingest feeds them: the metrics count messages,
// the aggregator counts results.
import { type Clock, systemClock } from '../../common/clock.ts';
import { Aggregator } from '../../hq/aggregator.ts';
import { HqMetrics, type HqMetricsOptions } from '../../hq/metrics.ts';
import type { ResultBatch } from '../../protocol/results.ts';

export function attachedMetrics(opts: HqMetricsOptions & { clock?: Clock } = {}, maxTimerSeries?: number) {
  const m = new HqMetrics(opts);
  const stats = new Aggregator({ clock: opts.clock ?? systemClock, maxTimerSeries });
  m.attach(stats);
  const feed = (b: ResultBatch, turret: string | null) => {
    m.observeBatch();
    stats.addRows(b, { uuid: null, name: turret });
    stats.fold();
  };
  return { m, stats, feed };
}
