import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { systemClock } from '../common/clock.ts';
import { memoryLogger } from '../common/log.ts';
import { ExitCode } from '../common/exit-codes.ts';
import { orders } from '../protocol/orders.ts';
import { batchRows as hqRows } from '../protocol/results.ts';
import { loadTurretConfigFile } from './config-file.ts';
import { loadTransactionClass } from './script-loader.ts';
import { connectTurretSockets } from './sockets.ts';
import { TestHq } from '../test/support/test-hq.ts';
import { BUSY_SCRIPT, MIXED_SCRIPT, scriptDir, slowScript } from '../test/support/turret-scripts.ts';
import { Turret } from './turret.ts';

const scripts = scriptDir();
let hq: TestHq;
before(async () => {
  hq = await TestHq.start();
});
after(async () => {
  await hq.close();
  scripts.remove();
});

function launch(script: string, extra: Record<string, unknown> = {}) {
  const name = `s-${randomUUID().slice(0, 8)}`;
  scripts.write(`${name}.ts`, script);
  const configPath = scripts.writeConfig(`${name}.json`, hq.turretConfig({ name, script: `${name}.ts`, ...extra }));
  const { config, scriptPath } = loadTurretConfigFile(configPath);
  const uuid = randomUUID();
  const log = memoryLogger('debug');
  const sockets = connectTurretSockets({ address: config.hq_address, publisher: config.hq_publisher, rc: config.hq_rc }, uuid, { lingerMs: 1000 });
  const turret = new Turret({ config, uuid, sockets, loadScript: () => loadTransactionClass(scriptPath), clock: systemClock, log });
  const exit = turret.run();
  return { turret, uuid, exit, log, name };
}

const ready = (uuid: string) => () => hq.statusesOf(uuid).find((s) => s.state === 'ready');
// run() resolves once the last messages are handed to ZeroMQ; they reach the HQ a moment later.
const finalStatus = (uuid: string, state: string) => hq.until(() => hq.statusesOf(uuid).find((s) => s.state === state), 3000, `${state} status`);

test('announces itself, heartbeats with health, answers status_request, ignores junk and other turrets', async () => {
  const t = launch(BUSY_SCRIPT);
  const first = await hq.until(ready(t.uuid), 5000, 'ready');
  assert.equal(first.oct, true);
  assert.equal(first.name, t.name);
  assert.equal(first.canons, 2);
  assert.equal(first.lastSeq, 0);
  await hq.until(() => hq.statusesOf(t.uuid).length >= 3, 3000, 'heartbeats');
  const beat = hq.lastStatus(t.uuid)!;
  assert.ok(beat.health && typeof beat.health.elu === 'number' && typeof beat.health.cpu === 'number' && typeof beat.health.lagMs === 'number');
  await hq.sendRaw('not json at all');
  await hq.sendRaw(' {"command":"dance","msg":null}');
  await hq.sendRaw(` ${JSON.stringify({ msg: 1 })}`);
  await hq.sendRaw(
    ` ${JSON.stringify({ command: 'plan', msg: { v: 1, uuid: t.uuid, plan_id: 1, model: 'open', t0: Date.now(), start_target: 0, stages: [{ duration: -5, target: 'lots' }] } })}`,
  );
  await hq.sendRaw(` ${JSON.stringify({ command: 'plan', msg: 'garbage' })}`);
  await hq.send(orders.start(), randomUUID()); // a direct order for another turret
  const n = hq.statusesOf(t.uuid).length;
  await hq.send(orders.statusRequest(), t.uuid); // a direct order for this one, topic-prefixed
  await hq.until(() => hq.statusesOf(t.uuid).length > n, 2000, 'status answer');
  assert.equal(hq.lastStatus(t.uuid)!.state, 'ready', "the other turret's start was ignored");
  assert.ok(t.log.lines.some((l) => l.includes('unknown command') && l.includes('dance')));
  assert.ok(
    t.log.lines.some((l) => l.includes('ignored order') && l.includes('stages[0]')),
    'a bad plan is logged with the key at fault',
  );
  assert.ok(!t.log.lines.some((l) => l.includes('"plan"') && l.includes('planId')), 'and not followed');
  await hq.send(orders.kill(), t.uuid);
  assert.equal(await t.exit, ExitCode.OK);
  await finalStatus(t.uuid, 'killed');
});

test('start: binary batches with increasing seq; timers reset per iteration; empty errors are errors; context is live', async () => {
  const t = launch(MIXED_SCRIPT, { canons: 3 });
  await hq.until(ready(t.uuid), 5000, 'ready');
  await hq.send(orders.setTransactionContext({ factor: 7 }));
  await hq.send(orders.start());
  await hq.until(() => hq.batches.filter((b) => b.turretUuid === t.uuid).length >= 4, 5000, 'batches');
  await hq.send(orders.start()); // already running: ignored
  await hq.send(orders.setTransactionContext({ factor: 9 }));
  await new Promise((r) => setTimeout(r, 150));
  await hq.send(orders.kill());
  assert.equal(await t.exit, ExitCode.OK);
  await finalStatus(t.uuid, 'killed');
  const mine = hq.batches.filter((b) => b.turretUuid === t.uuid);
  assert.deepEqual(
    mine.map((b) => b.seq),
    mine.map((b) => b.seq).sort((a, b) => a! - b!),
    'batches in seq order',
  );
  const seqs = hq.seqsOf(t.uuid);
  assert.deepEqual(
    seqs,
    seqs.map((_, i) => i + 1),
    'seq 1, 2, 3… over batches and aggregates, none missing',
  );
  const final = await finalStatus(t.uuid, 'killed');
  assert.equal(final.lastSeq, seqs.length);
  assert.equal(
    hq.aggregatedOf(t.uuid),
    mine.reduce((n, b) => n + b.count, 0),
    'the aggregates count every result the rows hold',
  );
  const running = hq.statusesOf(t.uuid).filter((s) => s.state === 'running');
  assert.ok(
    running.every((s) => (s.canonsRunning ?? 0) <= 3),
    'the second start spawned no extra canons',
  );
  const rows = mine.flatMap((b) => hqRows(b));
  assert.ok(rows.length > 20);
  for (const r of rows) {
    const i = r.customTimers.iteration!;
    assert.equal('even' in r.customTimers, i % 2 === 0, `iteration ${i}: "even" only on even iterations (timers reset)`);
    if (i % 3 === 2) assert.equal(r.error, 'Error (no message)');
    else assert.equal(r.error, null);
    assert.ok(r.scriptrunTime >= 0.004 && r.scriptrunTime < 1);
    assert.ok(r.elapsed > 0 && r.elapsed < 10);
    assert.ok(Math.abs(r.epoch - Date.now() / 1000) < 30);
  }
  assert.deepEqual(new Set(rows.map((r) => r.customTimers.canon)), new Set([0, 1, 2]));
  assert.ok(rows.some((r) => r.customTimers.factor === 7));
  assert.equal(rows.at(-1)!.customTimers.factor, 9, 'a later set_transaction_context is seen by running canons');
});

test('ctx: timer and sleep work detached; http and log, made on first use, are one per canon', async () => {
  const t = launch(
    `export class Transaction {
      customTimers = {};
      constructor(ctx) { this.ctx = ctx; }
      async run() {
        const { timer, sleep, http, log } = this.ctx;
        await timer('detached', () => sleep(0.01));
        log.info('hello from a canon');
        this.customTimers.sameHttp = http === this.ctx.http && typeof http.get === 'function' ? 1 : 0;
        this.customTimers.sameLog = log === this.ctx.log ? 1 : 0;
      }
    }`,
    { canons: 2 },
  );
  await hq.until(ready(t.uuid), 5000, 'ready');
  await hq.send(orders.start());
  await hq.until(() => hq.batches.filter((b) => b.turretUuid === t.uuid).length >= 2, 5000, 'batches');
  await hq.send(orders.kill());
  assert.equal(await t.exit, ExitCode.OK);
  const rows = hq.batches.filter((b) => b.turretUuid === t.uuid).flatMap((b) => hqRows(b));
  assert.ok(rows.length > 0);
  for (const r of rows) {
    assert.equal(r.error, null);
    assert.ok(r.customTimers.detached! >= 0.005, `detached timer recorded: ${r.customTimers.detached}`);
    assert.equal(r.customTimers.sameHttp, 1);
    assert.equal(r.customTimers.sameLog, 1);
  }
  assert.ok(t.log.lines.some((l) => /canon\.0 hello from a canon/.test(l)));
  assert.ok(t.log.lines.some((l) => /canon\.1 hello from a canon/.test(l)));
});

test('stop lets in-flight iterations finish and report, goes back to ready; a second start works', async () => {
  const t = launch(slowScript(300), { canons: 2 });
  await hq.until(ready(t.uuid), 5000, 'ready');
  await hq.send(orders.start());
  await hq.until(() => hq.statusesOf(t.uuid).some((s) => s.state === 'running'), 2000, 'running');
  await new Promise((r) => setTimeout(r, 450)); // each canon is mid-way through its second iteration
  const stopAt = Date.now();
  await hq.send(orders.stop());
  const back = await hq.until(
    () =>
      [...hq.statusesOf(t.uuid)]
        .reverse()
        .find((s) => s.state === 'ready' && hq.statusesOf(t.uuid).indexOf(s) > hq.statusesOf(t.uuid).findIndex((p) => p.state === 'running')),
    3000,
    'ready after stop',
  );
  assert.ok(Date.now() - stopAt >= 100, 'waited for the in-flight iteration');
  const mine = () => hq.batches.filter((b) => b.turretUuid === t.uuid);
  const rowsAtStop = mine().flatMap(hqRows);
  assert.equal(rowsAtStop.length, 4, 'two iterations per canon, the in-flight one included');
  assert.ok(rowsAtStop.every((r) => r.error === null && r.customTimers.done === 1));
  assert.equal(back.lastSeq, hq.lastSeqOf(t.uuid), 'the ready status names the last message');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(mine().flatMap(hqRows).length, 4, 'nothing runs after stop');
  await hq.send(orders.start());
  await hq.until(() => mine().flatMap(hqRows).length >= 6, 3000, 'results of the second start');
  await hq.send(orders.kill());
  assert.equal(await t.exit, ExitCode.OK);
});

test('rampup: canon i starts at i × rampup/canons seconds', async () => {
  const t = launch(MIXED_SCRIPT, { canons: 4, rampup: 0.8 });
  await hq.until(ready(t.uuid), 5000, 'ready');
  await hq.send(orders.start());
  const firstOf = (c: number) =>
    hq.batches
      .filter((b) => b.turretUuid === t.uuid)
      .flatMap(hqRows)
      .find((r) => r.customTimers.canon === c);
  await hq.until(() => firstOf(3), 4000, 'canon 3');
  await hq.send(orders.kill());
  await t.exit;
  for (let c = 0; c < 4; c++) {
    const first = firstOf(c)!;
    const expected = c * 0.2;
    const startedAt = first.elapsed - first.scriptrunTime;
    assert.ok(startedAt >= expected - 0.01 && startedAt < expected + 0.15, `canon ${c} started at ${startedAt.toFixed(3)} s, expected ${expected}`);
  }
});

test('a synchronous busy run() does not starve orders', async () => {
  const t = launch(BUSY_SCRIPT, { canons: 4, batch_max_results: 500 });
  await hq.until(ready(t.uuid), 5000, 'ready');
  await hq.send(orders.start());
  await hq.until(() => hq.batches.filter((b) => b.turretUuid === t.uuid).length >= 3, 3000, 'batches');
  const asked = Date.now();
  const n = hq.statusesOf(t.uuid).length;
  await hq.send(orders.statusRequest());
  await hq.until(() => hq.statusesOf(t.uuid).length > n, 1000, 'status answer while busy');
  assert.ok(Date.now() - asked < 500);
  await hq.send(orders.kill());
  assert.equal(await t.exit, ExitCode.OK);
  const final = await finalStatus(t.uuid, 'killed');
  assert.equal(final.lastSeq, hq.lastSeqOf(t.uuid));
});

test('a throwing constructor aborts the turret with a reason naming the script', async () => {
  const t = launch(`export class Transaction { customTimers = {}; constructor() { throw new Error('no credentials'); } async run() {} }`);
  await hq.until(ready(t.uuid), 5000, 'ready');
  await hq.send(orders.start());
  assert.equal(await t.exit, ExitCode.TEST_NOT_RUN);
  const last = await finalStatus(t.uuid, 'aborted');
  assert.match(last.reason!, new RegExp(`${t.name}\\.ts: Transaction constructor threw: no credentials`));
});

test('script load failures: aborted status naming the file and the cause', async () => {
  const cases: [string, string | null, RegExp][] = [
    ['missing', null, /script file not found/],
    ['syntax', 'export class Transaction { run( { }', /failed to load/],
    ['noclass', 'export const x = 1;', /no Transaction class exported.*exports found: x/],
  ];
  for (const [label, source, why] of cases) {
    const uuid = randomUUID();
    const file = `${scripts.dir}/${label}-${uuid}.ts`;
    if (source !== null) scripts.write(`${label}-${uuid}.ts`, source);
    const config = loadTurretConfigFile(scripts.writeConfig(`${label}.json`, hq.turretConfig({ name: label, script: `${label}-${uuid}.ts` }))).config;
    const sockets = connectTurretSockets({ address: '127.0.0.1', publisher: hq.publishPort, rc: hq.rcPort }, uuid, { lingerMs: 1000 });
    const turret = new Turret({ config, uuid, sockets, loadScript: () => loadTransactionClass(file), clock: systemClock, log: memoryLogger() });
    assert.equal(await turret.run(), ExitCode.TEST_NOT_RUN, label);
    const status = await finalStatus(uuid, 'aborted');
    assert.ok(status.reason!.includes(file), `${label}: reason names the file: ${status.reason}`);
    assert.match(status.reason!, why, label);
  }
});

test('ctx.ws connections a script leaves open are closed (1001) when its canons stop, not kept until the turret exits', async () => {
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const closes: number[] = [];
  let opened = 0;
  wss.on('connection', (ws) => {
    opened++;
    ws.on('close', (code) => closes.push(code));
  });
  const url = `ws://127.0.0.1:${(wss.address() as import('node:net').AddressInfo).port}/feed`;
  // One connection per canon, opened on its first iteration and never closed by the script.
  const t = launch(
    `export class Transaction {
  customTimers = {};
  socket = null;
  constructor(ctx) { this.ctx = ctx; }
  async run() {
    this.socket ??= await this.ctx.ws.connect(String(this.ctx.data.url));
    await new Promise((r) => setTimeout(r, 20));
  }
}
`,
    { canons: 3 },
  );
  try {
    await hq.until(ready(t.uuid), 5000, 'ready');
    await hq.send(orders.setTransactionContext({ url }));
    await hq.send(orders.start());
    await hq.until(() => opened === 3, 5000, 'three connections');
    await hq.send(orders.stop());
    await hq.until(() => closes.length === 3, 5000, 'the connections closed at stop');
    assert.deepEqual(closes, [1001, 1001, 1001]);
    await hq.until(() => hq.lastStatus(t.uuid)?.state === 'ready', 5000, 'the turret itself goes back to ready');
  } finally {
    await hq.send(orders.kill(), t.uuid);
    assert.equal(await t.exit, ExitCode.OK);
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
});
