// The HQ's PULL socket is not there (crashed, restarting): the turret buffers up to its bound, holds
// the canons back instead of dropping results, logs it, and delivers everything once the HQ is back.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import * as zmq from 'zeromq';
import { systemClock } from '../common/clock.ts';
import { memoryLogger } from '../common/log.ts';
import { parseIncoming } from '../protocol/incoming.ts';
import { orders, encodeOrder } from '../protocol/orders.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { TurretStatus } from '../protocol/incoming.ts';
import { parseTurretConfig } from '../protocol/config.ts';
import { connectTurretSockets } from './sockets.ts';
import { BUSY_SCRIPT, scriptDir } from '../test/support/turret-scripts.ts';
import { loadTransactionClass } from './script-loader.ts';
import { Turret } from './turret.ts';

test('no HQ reading: bounded buffer, canons held, nothing lost once it is back', async () => {
  const scripts = scriptDir();
  const pub = new zmq.Publisher({ linger: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  const probe = new zmq.Pull();
  await probe.bind('tcp://127.0.0.1:*');
  const rcPort = Number(new URL(probe.lastEndpoint!).port);
  probe.close(); // nobody listens on rcPort until later
  const file = scripts.write('busy.ts', BUSY_SCRIPT);
  const config = parseTurretConfig({
    name: 'bp',
    canons: 4,
    script: 'busy.ts',
    hq_address: '127.0.0.1',
    hq_publisher: Number(new URL(pub.lastEndpoint!).port),
    hq_rc: rcPort,
    batch_max_results: 20,
    batch_max_ms: 20,
    heartbeat_ms: 100,
  });
  const uuid = randomUUID();
  const log = memoryLogger('warn');
  const sockets = connectTurretSockets({ address: '127.0.0.1', publisher: config.hq_publisher, rc: rcPort }, uuid, { lingerMs: 1000, sendTimeoutMs: 100 });
  const turret = new Turret({ config, uuid, sockets, loadScript: () => loadTransactionClass(file), clock: systemClock, log, maxBufferedResults: 5000 });
  const exit = turret.run();
  const turretResults = () => turret.resultsRecorded;
  await sockets.subConnected;
  await new Promise((r) => setTimeout(r, 200));
  await pub.send(encodeOrder(orders.start()));
  // ZeroMQ's own pipe holds up to sendHighWaterMark messages before our buffer counts anything;
  // on a loaded machine filling both takes a while, so wait for the warning rather than a fixed time.
  const warned = () => log.lines.some((l) => l.includes('HQ is not receiving'));
  for (let waited = 0; !warned() && waited < 15_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  assert.ok(warned(), log.lines.join('\n'));
  const heldAt = turretResults();

  await new Promise((r) => setTimeout(r, 1000));
  // ZeroMQ's pipe (1000 messages × 20 results) plus our 5000-result bound, then the canons wait.
  assert.ok(turretResults() <= 1000 * 20 + 5000 + 4 * 20 + 100, `held back: ${turretResults()} results`);
  assert.ok(turretResults() - heldAt <= 5000 + 100, `little progress while the HQ is away: ${turretResults() - heldAt}`);
  const pull = new zmq.Pull({ linger: 0 });
  await pull.bind(`tcp://127.0.0.1:${rcPort}`);
  const batches: ResultBatch[] = [];
  const aggregateSeqs: number[] = [];
  const statuses: TurretStatus[] = [];
  const receiving = (async () => {
    for await (const frames of pull) {
      const m = parseIncoming(frames, { maxMessageBytes: 1 << 26 });
      if (m.kind === 'results') batches.push(m.batch);
      if (m.kind === 'aggregate') aggregateSeqs.push(m.message.seq);
      if (m.kind === 'status') statuses.push(m.status);
    }
  })().catch(() => {});
  await new Promise((r) => setTimeout(r, 500));
  await pub.send(encodeOrder(orders.kill()));
  assert.equal(await exit, 0);
  const deadline = Date.now() + 5000;
  while (!statuses.some((s) => s.state === 'killed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const final = statuses.find((s) => s.state === 'killed')!;
  assert.ok(final, 'final status arrived');
  // Result batches and aggregates share one seq stream.
  assert.deepEqual(
    [...batches.map((b) => b.seq!), ...aggregateSeqs].sort((a, b) => a - b),
    Array.from({ length: final.lastSeq! }, (_, i) => i + 1),
    'every message, none lost',
  );
  assert.deepEqual(
    batches.map((b) => b.seq),
    batches.map((b) => b.seq).sort((a, b) => a! - b!),
    'in order',
  );
  const total = batches.reduce((n, b) => n + b.count, 0);
  // Held back: while the HQ was away canons could run at most the HWM plus our bound's worth.
  assert.ok(total > heldAt, 'the held results and the ones after the HQ came back');
  pull.close();
  pub.close();
  await receiving;
  scripts.remove();
});
