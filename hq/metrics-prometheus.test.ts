// A real Prometheus scrapes HqMetrics over HTTP while batches are fed, and PromQL sees every
// transaction that was fed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { metricsRoute } from './metrics.ts';
import { webBatch } from '../test/support/web-batch.ts';
import { attachedMetrics } from '../test/support/attached-metrics.ts';
import { startPrometheus } from '../test/support/prometheus.ts';

test('Prometheus scrapes /metrics during a feed and counts every transaction', { timeout: 40_000 }, async () => {
  const { m: metrics, feed } = attachedMetrics();
  const route = metricsRoute(metrics);
  const server = createServer((req, res) => {
    if (req.url === '/metrics') void route(req, res);
    else res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const target = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const prom = await startPrometheus([target]);
  try {
    metrics.setRunState('running', 0);
    let fed = 0;
    let errors = 0;
    const started = Date.now();
    for (let i = 0; Date.now() - started < 4000; i++) {
      const turret = `turret-${i % 2}`;
      const batch = webBatch({ n: 2000, turret, timers: ['login'], errorEvery: 20, seed: i + 1 });
      feed(batch, turret);
      fed += batch.count;
      for (const e of batch.errorIndex) if (e >= 0) errors++;
      metrics.setRunState('running', (Date.now() - started) / 1000);
      await sleep(20);
    }
    metrics.setRunState('finished', (Date.now() - started) / 1000);

    const seen = await prom.waitFor('sum(oct_transactions_total{series="All transactions"})', (v) => v === fed);
    assert.equal(seen, fed, 'PromQL total equals the transactions fed');
    const [err] = await prom.query('sum(oct_errors_total{series="All transactions"})');
    assert.equal(Number(err!.value[1]), errors);
    const perTurret = await prom.query('sum by (turret) (oct_transactions_total{series="login"})');
    assert.equal(perTurret.length, 2);
    assert.equal(
      perTurret.reduce((s, r) => s + Number(r.value[1]), 0),
      fed,
    );
    const [p95] = await prom.query('histogram_quantile(0.95, sum by (le) (oct_transaction_duration_seconds_bucket{series="All transactions"}))');
    const q = Number(p95!.value[1]);
    assert.ok(q > 0.005 && q <= 1, `p95 ${q} s is a web latency`);
    const [state] = await prom.waitFor('oct_run_state{state="finished"}', (v) => v === 1).then(() => prom.query('oct_run_state{state="finished"}'));
    assert.equal(state!.value[1], '1');
    const [up] = await prom.query('up');
    assert.equal(up!.value[1], '1');
  } finally {
    await prom.stop();
    server.close();
  }
});
