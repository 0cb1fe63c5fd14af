// The HQ under CURVE against hostile clients on real sockets: a client without a key (or with a key
// the HQ does not trust) never gets a message through nor reads an order, and its handshakes are
// counted; a client with a trusted key of its own cannot speak for another turret's uuid. The real
// turrets' results are all there is in the run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as zmq from 'zeromq';
import { generateKeys, type HqKeys, hqKeysOf, type TurretKeys, turretKeysOf } from '../common/keys-dir.ts';
import { uuidProof, z85Decode } from '../protocol/curve-key.ts';
import { parseExposition } from '../test/support/exposition.ts';
import { batchFrames, FakeTurret } from '../test/support/fake-turret.ts';
import { hqFixture } from '../test/support/hq-fixture.ts';
import { until } from '../test/support/until.ts';
import { Hq } from './hq.ts';
import { HqMetrics } from './metrics.ts';

const fx = hqFixture();
const { options, storedRows } = fx;

const now = () => Date.now() / 1000;
const legacyResult = () => JSON.stringify({ elapsed: 1, epoch: now(), scriptrun_time: 0.01, error: '', custom_timers: {} });

function forgedBatch(uuid: string, seq: number, n: number): [string, Buffer] {
  const rows = Array.from({ length: n }, () => ({ elapsed: 1, epoch: now(), scriptrunTime: 0.01, error: null, customTimers: {} }));
  return batchFrames(rows, { uuid, turret: 'real', seq });
}

/** The HQ's keys trusting the shared turret key and one more (a second team's, say). */
function keysWithTwoTurrets(): { hq: HqKeys; real: TurretKeys; other: TurretKeys } {
  const shared = generateKeys();
  const second = generateKeys().turret;
  const hq = { ...hqKeysOf(shared, 'test'), trusted: [shared.turret.publicKey, second.publicKey] };
  return { hq, real: turretKeysOf(shared), other: { hqPublicKey: shared.hq.publicKey, turret: second } };
}

async function metricsOf(m: HqMetrics): Promise<Map<string, number>> {
  return parseExposition(await m.metricsText());
}

test('a client without the key gets nothing in and reads no order; its handshakes are counted', async () => {
  const keys = keysWithTwoTurrets();
  const metrics = new HqMetrics();
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 60 }, { curve: keys.hq, metrics }));
  const real = await FakeTurret.connect(hq.endpoints, { name: 'real', oct: true, curve: keys.real });
  const rc = `tcp://127.0.0.1:${hq.endpoints.resultsPort}`;
  // No CURVE at all, and CURVE with the right HQ key but a turret key nobody trusts.
  const plain = new zmq.Push({ linger: 0, sendTimeout: 0 });
  const stranger = generateKeys().turret;
  const untrusted = new zmq.Push({
    linger: 0,
    sendTimeout: 0,
    curveServerKey: keys.hq.hq.publicKey,
    curvePublicKey: stranger.publicKey,
    curveSecretKey: stranger.secretKey,
  });
  const spy = new zmq.Subscriber({ linger: 0 });
  const spied: string[] = [];
  spy.subscribe('');
  spy.connect(`tcp://127.0.0.1:${hq.endpoints.publishPort}`);
  void (async () => {
    for await (const [f] of spy) spied.push(f!.toString());
  })().catch(() => {});
  plain.connect(rc);
  untrusted.connect(rc);
  const ac = new AbortController();
  try {
    const outcome = hq.run(ac.signal);
    await real.enlist();
    // Each rogue tries every form: statuses (one claiming the real turret is Killed), legacy results, batches.
    const attempts = [
      [JSON.stringify({ turret: 'ghost', status: 'ready', uuid: 'ghost-1', cannons: 1 })],
      [JSON.stringify({ oct: 1, turret: 'real', status: 'Killed', uuid: real.uuid, seq: 0 })],
      [legacyResult()],
      forgedBatch(real.uuid, 1000, 100),
      forgedBatch('ghost-2', 1, 100),
    ];
    for (let round = 0; round < 5; round++) {
      for (const socket of [plain, untrusted]) {
        // libzmq queues a send for a peer whose handshake never completes, or refuses it (EAGAIN): either way nothing may arrive.
        for (const frames of attempts) await socket.send(frames).catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    let sent = 0;
    for (let i = 0; i < 10; i++) sent += await real.batch(100).then(() => 100);
    // A client without CURVE is refused as a mechanism mismatch ("protocol"), but when the HQ is slow
    // to read its greeting libzmq reports the same refusal without detail ("other"): either counts.
    const refused = (m: Map<string, number>, socket: string, reason: string) =>
      m.get(`oct_rejected_handshakes_total{socket="${socket}",reason="${reason}"}`) ?? 0;
    const noCurve = (m: Map<string, number>, socket: string) => refused(m, socket, 'protocol') + refused(m, socket, 'other');
    await until(
      async () => {
        const m = await metricsOf(metrics);
        return noCurve(m, 'results') > 0 && refused(m, 'results', 'auth') > 0;
      },
      15_000,
      'both kinds of refused handshake counted',
    );
    await until(
      async () => noCurve(await metricsOf(metrics), 'orders') > 0,
      // libzmq retries a refused peer with backoff; on a loaded machine the next try can take seconds.
      15_000,
      'the spy refused',
    );
    await until(() => hq.status().transactions === sent, 5000, 'the real batches');
    assert.equal(hq.status().turrets.find((t) => t.uuid === real.uuid)?.state, 'running', 'the forged Killed never arrived');
    ac.abort();
    await real.waitForOrder('stop');
    await real.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished', o.error ?? '');
    assert.equal(o.transactions, sent, 'only the real turret counted');
    assert.equal(await storedRows(o.runId), sent, 'only its rows stored');
    assert.deepEqual(
      o.turrets.map((t) => t.name),
      ['real'],
      'no rogue turret registered',
    );
    assert.equal(
      Object.values(o.malformed).reduce((a, b) => a + b, 0),
      0,
      'nothing of the rogues even reached the parser',
    );
    assert.equal(spied.length, 0, `the spy read no order (${spied.length})`);
    assert.ok(real.commands().includes('start'), 'while the real turret did');
  } finally {
    plain.close();
    untrusted.close();
    spy.close();
    real.close();
    await hq.close();
  }
});

test('a trusted key cannot speak for another turret: spoofed statuses and results are refused, the run goes on', async () => {
  const keys = keysWithTwoTurrets();
  const metrics = new HqMetrics();
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 60 }, { curve: keys.hq, metrics }));
  const real = await FakeTurret.connect(hq.endpoints, { name: 'real', oct: true, curve: keys.real });
  const ac = new AbortController();
  try {
    const outcome = hq.run(ac.signal);
    await real.enlist();
    let sent = 0;
    for (let i = 0; i < 3; i++) sent += await real.batch(100).then(() => 100);
    await until(() => hq.status().transactions === sent, 5000, 'the first real batches');

    // The other key's holder claims the real uuid, with a valid proof for its own key…
    const spoofer = await FakeTurret.connect(hq.endpoints, { name: 'real', oct: true, curve: keys.other, uuid: real.uuid });
    // …and names the real turret's key, with a proof it cannot make (its own key's).
    const liar = await FakeTurret.connect(hq.endpoints, { name: 'real', oct: true, curve: keys.other, uuid: real.uuid });
    const ownProof = uuidProof(z85Decode(keys.other.turret.secretKey)!, z85Decode(keys.hq.hq.publicKey)!, real.uuid);
    const asReal = (o: Record<string, unknown>) => JSON.stringify({ turret_key: keys.real.turret.publicKey, proof: ownProof, ...o });
    // An unstamped message from a trusted connection: no credentials.
    const bare = await FakeTurret.connect(hq.endpoints, { name: 'bare', oct: true, curve: keys.other });
    spoofer.seq = 10;
    await spoofer.status('killed');
    await spoofer.batch(500);
    await spoofer.raw([JSON.stringify({ oct: 1, type: 'aggregate', v: 1, precision: 7, uuid: real.uuid, turret: 'real', seq: 50, seconds: [] })], true);
    await liar.raw([asReal({ oct: 1, status: 'killed', uuid: real.uuid, turret: 'real', seq: 0 })]);
    const [header, data] = forgedBatch(real.uuid, 20, 500);
    await liar.raw([asReal(JSON.parse(header)), data]);
    await liar.raw([asReal({ oct: 1, type: 'aggregate', v: 1, precision: 7, uuid: real.uuid, turret: 'real', seq: 51, seconds: [] })]);
    await bare.raw([legacyResult()]);
    await bare.raw([JSON.stringify({ turret: 'bare', status: 'ready', uuid: bare.uuid })]);
    const forged = 8;
    await until(() => hq.status().rejectedMessages === forged, 5000, 'every forged message refused');
    const m = await metricsOf(metrics);
    assert.equal(m.get('oct_rejected_messages_total{reason="identity"}'), forged);

    // The run goes on: the real turret is still running, and its later batches all count.
    assert.equal(hq.status().turrets.find((t) => t.uuid === real.uuid)?.state, 'running');
    for (let i = 0; i < 3; i++) sent += await real.batch(100).then(() => 100);
    // The other key's holder may still speak for a uuid of its own.
    const second = await FakeTurret.connect(hq.endpoints, { name: 'second', oct: true, curve: keys.other });
    await second.status('running');
    await second.batch(7);
    sent += 7;
    await until(() => hq.status().transactions === sent, 5000, 'later real batches');
    ac.abort();
    await real.waitForOrder('stop');
    await real.status('ready');
    await second.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished', o.error ?? '');
    assert.equal(o.transactions, sent);
    assert.equal(await storedRows(o.runId), sent);
    assert.equal(o.missingBatches, 0, 'no forged seq counted as a gap');
    assert.equal(o.duplicates, 0);
    assert.deepEqual(o.turrets.map((t) => t.name).sort(), ['real', 'second']);
    for (const t of [spoofer, liar, bare, second]) t.close();
  } finally {
    real.close();
    await hq.close();
  }
});
