// End to end: a real Prometheus scrapes the HQ's /metrics during `oct run` (two local turrets, the
// embedded store); after the run, PromQL's transaction count equals the rows the run stored.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../common/log.ts';
import { openStore } from '../store/open.ts';
import { freePort, oct } from '../test/support/processes.ts';
import { startPrometheus } from '../test/support/prometheus.ts';

test('Prometheus scraping the HQ during oct run counts exactly the stored results', { timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'oct-metrics-e2e-'));
  const dir = join(root, 'demo');
  const made = await oct(['new-project', dir]);
  assert.equal(made.code, 0, made.stderr);
  // A known HTTP port, so Prometheus can be scraping before the HQ is up.
  const httpPort = await freePort();
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  Object.assign(config, { run_time: 5, results_ts_interval: 1, publish_port: 0, rc_port: 0, http_port: httpPort, progress_bar: false, thresholds: {} });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));

  // Scraped every 200 ms: the run's last phases (drain, report) last about a second here.
  const prom = await startPrometheus([`127.0.0.1:${httpPort}`], { scrapeInterval: '200ms' });
  try {
    const r = await oct(['run', dir]);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    // Whether both turrets already said Running when the start line prints is a race: either is fine.
    assert.match(r.stdout, /turrets: 2(?: \(\d running\))?, elapsed: \d+\.\d {3}transactions: \d+ {2}errors: \d+ {2}rate: /, 'the live line was printed');

    const runs = readdirSync(join(dir, 'results')).filter((d) => d.startsWith('results_'));
    assert.equal(runs.length, 1);
    const store = await openStore({ embeddedDir: join(dir, 'results', runs[0]!, 'db'), log: createLogger() });
    let stored: number;
    try {
      [{ n: stored }] = await store.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM results');
    } finally {
      await store.close();
    }
    assert.ok(stored > 20, `only ${stored} results stored`);

    // The HQ has exited: its last samples are in the range. Counters only grow, so the max over
    // the range is the final scraped value; the HQ serves /metrics while it writes the report,
    // after the drain, so the last scrape saw every result.
    const count = await prom.waitFor('sum(max_over_time(oct_transactions_total{series="All transactions"}[5m]))', (v) => v === stored);
    assert.equal(count, stored, 'PromQL transaction count == stored rows');
    // The process exits right after the report, so "finished" itself may fall between scrapes.
    const [ending] = await prom.query('max(max_over_time(oct_run_state{state=~"draining|finished"}[5m]))');
    assert.equal(ending?.value[1], '1', 'Prometheus saw the run reach its end (draining or finished)');
    const turrets = await prom.query('sum by (turret) (max_over_time(oct_transactions_total{series="All transactions"}[5m]))');
    assert.deepEqual(turrets.map((t) => t.metric.turret).sort(), ['navigation', 'random']);
    const [dropped] = await prom.query('max_over_time(oct_results_dropped_total[5m])');
    assert.equal(dropped?.value[1], '0');
    const [maxCanons] = await prom.query('max_over_time(oct_canons_running[5m])');
    assert.ok(Number(maxCanons?.value[1]) > 0, 'canons running was seen');
  } finally {
    await prom.stop();
  }
});
