// One benchmark sender: an oct-protocol turret without canons. It announces itself, waits for
// `start`, then pushes the same binary batch (fresh seq each time) as fast as the PUSH socket's
// high-water mark lets it until `stop`, sends its final status, and prints how much it sent.
// Usage: node --import tsx bench/hq-ingest-sender.ts PUBLISH_PORT RESULTS_PORT NAME BATCH_SIZE [KEYS_DIR]
// (KEYS_DIR: CURVE with the turret keys there, every message stamped as oct's turret does)
import { randomUUID } from 'node:crypto';
import * as zmq from 'zeromq';
import { encodeBinaryBatch } from '../protocol/binary-batch.ts';
import { parseOrder } from '../protocol/orders.ts';
import { ResultBatchBuilder } from '../protocol/results.ts';
import { encodeStatus } from '../protocol/status.ts';
import { readTurretKeys } from '../common/keys-dir.ts';
import { credentialStamp } from '../turret/sockets.ts';

const [publishPort, resultsPort, name, batchSizeArg, keysDir] = process.argv.slice(2);
const batchSize = Number(batchSizeArg ?? 2000);
const uuid = randomUUID();
const keys = keysDir ? readTurretKeys(keysDir) : null;
const curve = keys ? { curveServerKey: keys.hqPublicKey, curvePublicKey: keys.turret.publicKey, curveSecretKey: keys.turret.secretKey } : {};
const stamp = keys ? credentialStamp(keys, uuid) : (json: string) => json;
const push = new zmq.Push({ sendHighWaterMark: 200, linger: 30_000, ...curve });
const sub = new zmq.Subscriber(curve);
sub.subscribe('');
sub.connect(`tcp://127.0.0.1:${publishPort}`);
push.connect(`tcp://127.0.0.1:${resultsPort}`);

const b = new ResultBatchBuilder();
const epoch = Date.now() / 1000;
for (let i = 0; i < batchSize; i++)
  b.add({ elapsed: i / 1000, epoch, scriptrunTime: 0.001 + (i % 50) / 10_000, error: i % 100 === 0 ? 'HTTP 500' : null, customTimers: {} });
const batch = b.build({ turretUuid: uuid, turretName: name!, seq: 0 });
const [, payload] = encodeBinaryBatch(batch, { uuid, turret: name!, seq: 0 });

let seq = 0;
let state: 'ready' | 'running' | 'stopping' = 'ready';
const status = (s: 'ready' | 'running') =>
  push.send(stamp(encodeStatus({ uuid, name: name!, status: s, canons: 1, rampup: 0, script: 'bench', lastSeq: seq, canonsRunning: s === 'running' ? 1 : 0 })));

async function readOrders(): Promise<void> {
  for await (const [frame] of sub) {
    const o = parseOrder(frame!);
    if (!o.ok) continue;
    if (o.order.command === 'start' && state === 'ready') state = 'running';
    if (o.order.command === 'stop' && state === 'running') state = 'stopping';
  }
}
void readOrders().catch(() => {});

const heartbeat = setInterval(() => void 0, 1000);
while (state === 'ready') {
  await status('ready');
  await new Promise((r) => setTimeout(r, 200));
}
await status('running');
const t0 = performance.now();
let lastBeat = t0;
while (state === 'running') {
  seq++;
  const header = `{"oct":1,"type":"results","encoding":"f64le-columns","uuid":"${uuid}","turret":"${name}","seq":${seq},"count":${batchSize},"timers":[],"errors":["HTTP 500"]}`;
  await push.send([stamp(header), payload]);
  const now = performance.now();
  // Sends below the high-water mark resolve at once; without a yield the order loop never runs.
  if (seq % 16 === 0) await new Promise((r) => setImmediate(r));
  if (now - lastBeat > 2000) {
    lastBeat = now;
    await status('running');
  }
}
const seconds = (performance.now() - t0) / 1000;
await status('ready');
clearInterval(heartbeat);
process.stdout.write(`${JSON.stringify({ name, uuid, batches: seq, results: seq * batchSize, seconds })}\n`);
sub.close();
push.close(); // linger lets the last frames out
