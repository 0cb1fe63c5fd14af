import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import type { Clock } from '../common/clock.ts';
import { memoryLogger } from '../common/log.ts';
import { ALL_TRANSACTIONS_SERIES } from '../protocol/results.ts';
import { attachedMetrics } from '../test/support/attached-metrics.ts';
import { HqMetrics, type HqMetricsOptions, metricsRoute } from './metrics.ts';
import { parseExposition } from '../test/support/exposition.ts';
import { webBatch } from '../test/support/web-batch.ts';

function manualClock(): Clock & { ms: number } {
  const c = { ms: 1_000_000, now: () => c.ms, monotonic: () => c.ms };
  return c;
}

const ALL = ALL_TRANSACTIONS_SERIES;

function attached(opts: HqMetricsOptions = {}, maxTimerSeries?: number) {
  return attachedMetrics({ clock: manualClock(), ...opts }, maxTimerSeries);
}

test('counts transactions, errors and histogram buckets per turret and series', async () => {
  const { m, feed } = attached();
  const a = webBatch({ n: 1000, turret: 'navigation', timers: ['login'], errorEvery: 10 });
  const b = webBatch({ n: 500, turret: null, errorEvery: 50, seed: 7 });
  feed(a, 'navigation');
  feed(b, null);
  const e = parseExposition(await m.metricsText());
  assert.equal(e.get(`oct_transactions_total{turret="navigation",series="${ALL}"}`), 1000);
  assert.equal(e.get('oct_transactions_total{turret="navigation",series="login"}'), 1000);
  assert.equal(e.get(`oct_errors_total{turret="navigation",series="${ALL}"}`), 100);
  assert.equal(e.get(`oct_transactions_total{turret="unnamed",series="${ALL}"}`), 500);
  assert.equal(e.get(`oct_errors_total{turret="unnamed",series="${ALL}"}`), 10);
  assert.equal(e.get(`oct_transaction_duration_seconds_count{series="${ALL}"}`), 1500);
  assert.equal(e.get(`oct_transaction_duration_seconds_bucket{series="${ALL}",le="+Inf"}`), 1500);
  // Bucket counts agree with a direct count of the same values (le is inclusive), to within the
  // histogram bucket that holds the bound (0.8% wide).
  let le100ms = 0;
  let le101ms = 0;
  for (const col of [a.scriptrunTime, b.scriptrunTime]) for (const v of col) v <= 0.1 && le100ms++, v <= 0.1008 && le101ms++;
  const at = e.get(`oct_transaction_duration_seconds_bucket{series="${ALL}",le="0.1"}`)!;
  assert.ok(at >= le100ms && at <= le101ms, `${at} in [${le100ms}, ${le101ms}]`);
  const sum = [...a.scriptrunTime, ...b.scriptrunTime].reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(e.get(`oct_transaction_duration_seconds_sum{series="${ALL}"}`)! - sum) < 1e-9 * sum);
  assert.equal(e.get('oct_messages_received_total{type="results"}'), 2);
  assert.deepEqual(m.totals().transactions, 1500);
});

test('custom timer names past the cap share series="other"', async () => {
  const { m, feed } = attached({ log: memoryLogger() }, 3);
  feed(webBatch({ n: 10, turret: 't', timers: ['a', 'b', 'all', 'c', 'd'] }), 't');
  const e = parseExposition(await m.metricsText());
  const series = [...e.keys()].filter((k) => k.startsWith('oct_transaction_duration_seconds_count')).map((k) => /series="([^"]+)"/.exec(k)![1]);
  assert.deepEqual(series.sort(), [ALL, 'a', 'all', 'b', 'other'].sort());
  assert.equal(e.get('oct_transaction_duration_seconds_count{series="other"}'), 20);
  assert.equal(e.get(`oct_transactions_total{turret="t",series="${ALL}"}`), 10);
});

test('turret names past the cap share turret="other"', async () => {
  const { m, feed } = attached({ maxTurrets: 2, log: memoryLogger() });
  for (const t of ['t1', 't2', 't3', 't4', 't3']) feed(webBatch({ n: 5, turret: t }), t);
  const e = parseExposition(await m.metricsText());
  const turrets = [...e.keys()].filter((k) => k.startsWith('oct_transactions_total')).map((k) => /turret="([^"]+)"/.exec(k)![1]);
  assert.deepEqual(turrets.sort(), ['other', 't1', 't2']);
  assert.equal(e.get(`oct_transactions_total{turret="other",series="${ALL}"}`), 15);
});

test('state, turrets, writer, malformed and dropped are exposed', async () => {
  const m = new HqMetrics();
  m.setRunState('running', 12.5);
  m.setTurrets({ ready: 1, running: 2, stopping: 0, aborted: 0, killed: 0, lost: 1, unknown: 0 }, 20);
  m.setWriter({ queuedRows: 300, spilledRows: 0, writtenRows: 10_000, inFlightRows: 2000, lagSeconds: 0.4, failedWrites: 1 });
  m.malformed('not_json');
  m.malformed('not_json');
  m.malformed('oversized');
  m.duplicate();
  m.statusReceived();
  const e = parseExposition(await m.metricsText());
  assert.equal(e.get('oct_run_state{state="running"}'), 1);
  assert.equal(e.get('oct_run_state{state="waiting"}'), 0);
  assert.equal(e.get('oct_run_elapsed_seconds'), 12.5);
  assert.equal(e.get('oct_turrets{state="running"}'), 2);
  assert.equal(e.get('oct_turrets{state="lost"}'), 1);
  assert.equal(e.get('oct_canons_running'), 20);
  assert.equal(e.get('oct_store_queue_rows'), 300);
  assert.equal(e.get('oct_store_rows_written_total'), 10_000);
  assert.equal(e.get('oct_store_write_lag_seconds'), 0.4);
  assert.equal(e.get('oct_malformed_messages_total{kind="not_json"}'), 2);
  assert.equal(e.get('oct_malformed_messages_total{kind="bad_binary"}'), 0);
  assert.equal(e.get('oct_messages_received_total{type="malformed"}'), 3);
  assert.equal(e.get('oct_duplicate_batches_total'), 1);
  assert.equal(e.get('oct_results_dropped_total'), 0);
});

test('throughput gauge averages the last complete seconds', async () => {
  const clock = manualClock();
  const { m, feed } = attached({ clock });
  for (let s = 0; s < 10; s++) {
    feed(webBatch({ n: 1000, turret: 't' }), 't');
    clock.ms += 1000;
  }
  assert.equal(m.totals().ratePerSecond, 1000);
  clock.ms += 3000; // three silent seconds
  assert.equal(m.totals().ratePerSecond, 400);
  clock.ms += 10_000;
  assert.equal(m.totals().ratePerSecond, 0);
});

test('a turret busy for the configured time is flagged saturated and logged once', async () => {
  const clock = manualClock();
  const log = memoryLogger();
  const m = new HqMetrics({ clock, log: log, saturationSeconds: 5 });
  const beat = (elu: number) => {
    m.turretHealth('navigation', 'uuid-1', { elu, cpu: 0.4, lagMs: 30 });
    clock.ms += 2000;
  };
  beat(0.95);
  beat(0.95);
  let e = parseExposition(await m.metricsText());
  assert.equal(e.get('oct_turret_saturated{turret="navigation",uuid="uuid-1"}'), 0, 'not yet: busy for only 2 s');
  beat(0.97);
  beat(0.99);
  beat(0.99);
  e = parseExposition(await m.metricsText());
  assert.equal(e.get('oct_turret_saturated{turret="navigation",uuid="uuid-1"}'), 1);
  assert.equal(e.get('oct_turrets_saturated'), 1);
  assert.equal(e.get('oct_turret_event_loop_utilization_ratio{turret="navigation",uuid="uuid-1"}'), 0.99);
  assert.equal(e.get('oct_turret_event_loop_lag_seconds{turret="navigation",uuid="uuid-1"}'), 0.03);
  assert.equal(log.lines.filter((l) => l.includes('warn') && l.includes('turret saturated')).length, 1);
  beat(0.2);
  e = parseExposition(await m.metricsText());
  assert.equal(e.get('oct_turret_saturated{turret="navigation",uuid="uuid-1"}'), 0);
  assert.equal(log.lines.filter((l) => l.includes('no longer saturated')).length, 1);
});

test('promtool check metrics accepts the exposition after realistic batches', async () => {
  const { m, feed } = attached();
  for (let i = 0; i < 20; i++)
    feed(webBatch({ n: 2000, turret: `turret-${i % 3}`, timers: i % 2 ? ['login', 'search'] : ['login'], errorEvery: 37, seed: i + 1 }), `turret-${i % 3}`);
  feed(webBatch({ n: 1, turret: null }), null);
  m.setRunState('running', 3);
  m.setTurrets({ ready: 0, running: 3, stopping: 0, aborted: 0, killed: 0, lost: 0, unknown: 0 }, 30);
  m.setWriter({ queuedRows: 10, spilledRows: 0, writtenRows: 38_000, inFlightRows: 2000, lagSeconds: 0.1, failedWrites: 0 });
  m.malformed('bad_field');
  m.turretHealth('turret-0', 'u0', { elu: 0.5, cpu: 0.6, lagMs: 4 });
  const text = await m.metricsText();
  // promtool prints lint problems and exits non-zero on any.
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(out.trim(), '');
});

test('metricsRoute serves the exposition with the Prometheus content type', async () => {
  const { m, feed } = attached();
  feed(webBatch({ n: 3, turret: 'x' }), 'x');
  const route = metricsRoute(m);
  const server = createServer((req, res) => void route(req, res)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /oct_transactions_total\{turret="x",series="All transactions"\} 3/);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
  } finally {
    server.close();
  }
});
