// The HQ's observers, shared by `oct run` and `oct hq`: Prometheus metrics always, plus the
// original's external publisher (a PUB socket re-publishing results) when configured.
import type { Logger } from '../common/log.ts';
import type { HqMetricsHooks } from './metrics-hooks.ts';
import { HqMetrics } from './metrics.ts';
import { ObserverPublisher, observerEndpoint, withObserver } from './observer-publisher.ts';
import type { ProjectConfig } from '../protocol/config.ts';

export async function hqObservers(
  config: ProjectConfig,
  bindHost: string,
  log: Logger,
): Promise<{ metrics: HqMetrics; hooks: HqMetricsHooks; close(): Promise<void> }> {
  const metrics = new HqMetrics({ log: log.child('metrics') });
  if (config.external_publisher === undefined) return { metrics, hooks: metrics, close: async () => {} };
  const observer = await ObserverPublisher.bind({ endpoint: observerEndpoint(config.external_publisher, bindHost), log: log.child('observers') });
  log.info('observer stream', { endpoint: observer.endpoint });
  return { metrics, hooks: withObserver(metrics, observer), close: async () => observer.close() };
}
