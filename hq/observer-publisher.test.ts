import { parseExposition } from '../test/support/exposition.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Subscriber } from 'zeromq';
import { memoryLogger } from '../common/log.ts';
import { batchRows } from '../protocol/results.ts';
import { HqMetrics } from './metrics.ts';
import { webBatch } from '../test/support/web-batch.ts';
import { ObserverPublisher, observerEndpoint, withObserver } from './observer-publisher.ts';

async function receive(sub: Subscriber, n: number, timeoutMs = 5000): Promise<Array<[string, any]>> {
  const got: Array<[string, any]> = [];
  const timer = setTimeout(() => sub.close(), timeoutMs);
  try {
    for await (const [topic, json] of sub) {
      got.push([topic!.toString(), JSON.parse(json!.toString())]);
      if (got.length === n) break;
    }
  } catch {
    // closed by the timeout: the assertion on the count says what was missing
  } finally {
    clearTimeout(timer);
  }
  return got;
}

test('observers receive every batch as [topic, json], in the original result shape', { timeout: 20_000 }, async () => {
  const log = memoryLogger();
  const observer = await ObserverPublisher.bind({ endpoint: 'tcp://127.0.0.1:0', log });
  const sub = new Subscriber();
  sub.connect(observer.endpoint);
  sub.subscribe('results.');
  const nav = new Subscriber();
  nav.connect(observer.endpoint);
  nav.subscribe('results.navigation');
  await sleep(300); // PUB/SUB slow joiner: let the subscriptions reach the publisher
  try {
    const metrics = new HqMetrics({ log });
    const hooks = withObserver(metrics, observer);
    const batches = [
      webBatch({ n: 3, turret: 'navigation', timers: ['login'], errorEvery: 2, seq: 1 }),
      webBatch({ n: 1, turret: null }),
      webBatch({ n: 2, turret: 'search', seq: 4 }),
    ];
    const gotAll = receive(sub, 3);
    const gotNav = receive(nav, 1);
    hooks.observeBatch(batches[0]!, 'navigation');
    hooks.observeBatch(batches[1]!, null);
    hooks.observeBatch(batches[2]!, 'search');
    const all = await gotAll;
    assert.deepEqual(
      all.map(([t]) => t),
      ['results.navigation', 'results.unnamed', 'results.search'],
    );
    const [, first] = all[0]!;
    assert.equal(first.oct, 1);
    assert.equal(first.type, 'results');
    assert.equal(first.turret, 'navigation');
    assert.equal(first.seq, 1);
    const rows = batchRows(batches[0]!);
    assert.deepEqual(
      first.results,
      rows.map((r) => ({
        turret_name: 'navigation',
        elapsed: r.elapsed,
        epoch: r.epoch,
        scriptrun_time: r.scriptrunTime,
        error: r.error ?? '',
        custom_timers: r.customTimers,
      })),
    );
    assert.equal(all[1]![1].turret, null);
    assert.equal(all[1]![1].results.length, 1);
    const navOnly = await gotNav;
    assert.deepEqual(
      navOnly.map(([t]) => t),
      ['results.navigation'],
    );
    // The metrics counted the same messages.
    const e = parseExposition(await metrics.metricsText());
    assert.equal(e.get('oct_messages_received_total{type="results"}'), 3);
    assert.equal(observer.stats().published, 3);
  } finally {
    sub.close();
    nav.close();
    await observer.close();
  }
});

test('a full queue drops observer messages without blocking, and says so once', async () => {
  const log = memoryLogger();
  const observer = await ObserverPublisher.bind({ endpoint: 'tcp://127.0.0.1:0', log, maxQueue: 5 });
  try {
    const batch = webBatch({ n: 10, turret: 't' });
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) observer.publish(batch, 't');
    assert.ok(performance.now() - t0 < 500, 'publish returns at once');
    await sleep(100);
    const s = observer.stats();
    assert.equal(s.published + s.dropped, 1000);
    assert.ok(s.dropped > 0);
    assert.equal(log.lines.filter((l) => l.includes('observer stream falling behind')).length, 1);
  } finally {
    await observer.close();
  }
});

test('a port becomes a tcp endpoint; a bad endpoint names the key', async () => {
  assert.equal(observerEndpoint(5002), 'tcp://*:5002');
  assert.equal(observerEndpoint(5002, '127.0.0.1'), 'tcp://127.0.0.1:5002');
  assert.equal(observerEndpoint('ipc:///tmp/x'), 'ipc:///tmp/x');
  await assert.rejects(ObserverPublisher.bind({ endpoint: 'tcp://999.1.1.1:1', log: memoryLogger() }), /external_publisher: cannot bind/);
});
