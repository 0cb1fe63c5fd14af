// The Grafana dashboard in k8s-examples/ only references metrics HqMetrics exposes, and every
// PromQL expression in it parses (checked by a real Prometheus).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { HqMetrics } from './metrics.ts';
import { attachedMetrics } from '../test/support/attached-metrics.ts';
import { webBatch } from '../test/support/web-batch.ts';
import { startPrometheus } from '../test/support/prometheus.ts';

const DASHBOARD = new URL('../k8s-examples/grafana-dashboard.json', import.meta.url);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; refId: string }>;
}

function load(): { panels: Panel[]; templating: { list: Array<{ query?: unknown; definition?: string }> } } {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8'));
}

function expressions(): string[] {
  const d = load();
  const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of d.templating.list) if (v.definition) exprs.push(v.definition);
  return exprs;
}

async function exposedNames(): Promise<Set<string>> {
  const { m, feed } = attachedMetrics();
  feed(webBatch({ n: 10, turret: 't', timers: ['login'] }), 't');
  m.turretHealth('t', 'u', { elu: 0.5, cpu: 0.5, lagMs: 1 });
  const names = new Set<string>();
  for (const line of (await m.metricsText()).split('\n')) {
    const name = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1];
    if (name) names.add(name);
  }
  return names;
}

test('the dashboard is valid JSON with unique panel ids and a layout inside 24 columns', () => {
  const d = load();
  assert.ok(d.panels.length >= 10);
  const ids = d.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const p of d.panels) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel "${p.title}" fits the grid`);
    if (p.type !== 'row') assert.ok(p.targets?.length, `panel "${p.title}" has a query`);
  }
});

test("every metric the dashboard queries is exposed by HqMetrics, and the issue's views are there", async () => {
  const exposed = await exposedNames();
  const referenced = new Set(expressions().flatMap((e) => e.match(/\boct_[a-z0-9_]+/g) ?? []));
  assert.ok(referenced.size > 10);
  for (const name of referenced) assert.ok(exposed.has(name), `${name} is referenced by the dashboard but not exposed`);
  const all = expressions().join('\n');
  for (const needed of [
    'histogram_quantile',
    'oct_transactions_total',
    'oct_errors_total',
    'oct_turrets',
    'oct_canons_running',
    'oct_store_write_lag_seconds',
    'oct_malformed_messages_total',
    'oct_turret_saturated',
  ]) {
    assert.ok(all.includes(needed), `the dashboard shows ${needed}`);
  }
});

test('every dashboard expression is valid PromQL', { timeout: 30_000 }, async () => {
  const prom = await startPrometheus([]);
  try {
    for (const expr of expressions()) {
      // Grafana's variables, replaced by what Grafana would substitute.
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$turret', '.*').replaceAll('$series', '.*');
      if (promql.startsWith('label_values(')) continue; // a Grafana function, not PromQL
      await assert.doesNotReject(prom.query(promql), `PromQL: ${promql}`);
    }
  } finally {
    await prom.stop();
  }
});
