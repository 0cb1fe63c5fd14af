// What a script's checks and requests add to a report, from the stored per-second deltas: pass
// rates per check, and per request series its responses by status and its bytes. Latencies of the
// request series are ordinary series (report/aggregate-stats.ts); checks have no latency and are
// kept out of the series list.
import { BYTES_RECEIVED_COUNTER, BYTES_SENT_COUNTER, checkName, isCheckSeries, STATUS_COUNTER_PREFIX } from '../protocol/series-names.ts';
import type { AggregateRow } from '../store/types.ts';

export interface CheckStats {
  name: string;
  passes: number;
  fails: number;
  /** passes / (passes + fails), 0..1. */
  passRate: number;
}

export interface RequestStats {
  /** The series: method and grouped name, e.g. `GET /orders/:id` (each redirect hop its own). */
  name: string;
  count: number;
  /** Responses >= 400 (not in okStatuses) and requests with no response (refused, timed out). */
  failed: number;
  /** Responses per status code; "none" counts requests that got no response. */
  statuses: Record<string, number>;
  /** Body bytes. */
  bytesSent: number;
  bytesReceived: number;
}

export interface ScriptMetrics {
  checks: CheckStats[];
  requests: RequestStats[];
}

export function scriptMetrics(rows: readonly AggregateRow[]): ScriptMetrics {
  const checks = new Map<string, { n: number; fails: number }>();
  const requests = new Map<string, RequestStats>();
  for (const r of rows) {
    if (isCheckSeries(r.series)) {
      let c = checks.get(r.series);
      if (!c) checks.set(r.series, (c = { n: 0, fails: 0 }));
      c.n += r.hist.n;
      c.fails += r.errors;
      continue;
    }
    if (!r.counters) continue;
    let q = requests.get(r.series);
    if (!q) requests.set(r.series, (q = { name: r.series, count: 0, failed: 0, statuses: {}, bytesSent: 0, bytesReceived: 0 }));
    q.count += r.hist.n;
    q.failed += r.errors;
    for (const [k, v] of Object.entries(r.counters)) {
      if (k === BYTES_SENT_COUNTER) q.bytesSent += v;
      else if (k === BYTES_RECEIVED_COUNTER) q.bytesReceived += v;
      else if (k.startsWith(STATUS_COUNTER_PREFIX)) {
        const status = k.slice(STATUS_COUNTER_PREFIX.length);
        q.statuses[status] = (q.statuses[status] ?? 0) + v;
      }
    }
  }
  return {
    checks: [...checks]
      .map(([series, c]) => ({ name: checkName(series), passes: c.n - c.fails, fails: c.fails, passRate: c.n ? (c.n - c.fails) / c.n : 0 }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    requests: [...requests.values()].sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1)),
  };
}
