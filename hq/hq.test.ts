// The HQ against fake turrets made of real ZeroMQ sockets, with a real Postgres store.
import { DeltaBuilder, encodeAggregate } from '../protocol/aggregate.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hq } from './hq.ts';
import { hqFixture } from '../test/support/hq-fixture.ts';
import { FakeTurret } from '../test/support/fake-turret.ts';
import { until } from '../test/support/until.ts';

const fx = hqFixture();
const { log, options, storedRows } = fx;

test('waits for min_turrets, starts with the exact framing, starts a late joiner, stops, keeps in-flight results', async () => {
  const hq = await Hq.bind(options({ min_turrets: 2, run_time: 3, transaction_context: { target: 'http://x' } }));
  const turrets: FakeTurret[] = [];
  try {
    const outcome = hq.run();
    const a = await FakeTurret.connect(hq.endpoints, { name: 'alpha', oct: true });
    turrets.push(a);
    await a.status('ready');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!a.commands().includes('start'), 'no start with one of two turrets');
    const b = await FakeTurret.connect(hq.endpoints, { name: 'beta', oct: false });
    turrets.push(b);
    await new Promise((r) => setTimeout(r, 100)); // let the SUB subscription reach the PUB
    await b.status('ready');
    await a.waitForOrder('start');
    await b.waitForOrder('start');
    const ctx = b.orders.findIndex((o) => o.includes('set_transaction_context'));
    const start = b.orders.findIndex((o) => o.includes('"start"'));
    assert.ok(ctx >= 0 && ctx < start, 'set_transaction_context before start');
    assert.equal(b.orders[ctx], ' {"command":"set_transaction_context","msg":{"target":"http://x"}}');
    assert.equal(b.orders[start], ' {"command":"start","msg":"open fire"}');
    assert.ok(
      b.orders.every((o) => o.startsWith(' {') && 'command' in JSON.parse(o) && 'msg' in JSON.parse(o)),
      'broadcast frames only',
    );

    await a.status('running');
    await b.status('Running');
    for (let i = 0; i < 5; i++) await a.batch(100);
    for (let i = 0; i < 20; i++) await b.legacyResult({ customTimers: { login: 0.02 } });

    const late = await FakeTurret.connect(hq.endpoints, { name: 'gamma', oct: true });
    turrets.push(late);
    await new Promise((r) => setTimeout(r, 100));
    await late.status('ready');
    await late.waitForOrder('start', 3000);
    await late.status('running');
    await late.batch(50);

    await a.waitForOrder('stop', 5000);
    // In flight at stop: results sent after the stop order, then the final status.
    await a.batch(100);
    await a.status('ready');
    await late.status('ready');
    await b.legacyResult();
    await b.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished', o.error ?? '');
    assert.equal(o.transactions, 5 * 100 + 20 + 50 + 100 + 1);
    assert.equal(await storedRows(o.runId), o.transactions, 'every result stored');
    assert.equal(await storedRows(o.runId, `turret_name = 'beta'`), 21, 'legacy results attributed to the only legacy turret');
    assert.equal(o.duplicates, 0);
    assert.equal(o.missingBatches, 0);
    assert.equal(o.lateResults, 0);
    const run = await fx.store().getRun(o.runId);
    assert.equal(run!.state, 'finished');
    assert.ok(run!.startedAt && run!.endedAt);
    const changes = await fx
      .store()
      .sql.query<{ name: string; status: string }>('SELECT name, status FROM turret_status_changes WHERE run_id = $1 ORDER BY at', [o.runId]);
    const gamma = changes.filter((c) => c.name === 'gamma').map((c) => c.status);
    assert.deepEqual(gamma, ['ready', 'running', 'ready']);
    const rows = await fx.store().sql.query<{ name: string; status: string }>('SELECT name, status FROM turrets WHERE run_id = $1 ORDER BY name', [o.runId]);
    assert.deepEqual(
      rows.map((r) => r.name),
      ['alpha', 'beta', 'gamma'],
    );
    assert.equal(o.turrets.find((t) => t.name === 'alpha')!.results, 600);
  } finally {
    turrets.forEach((t) => t.close());
    await hq.close();
  }
});

test('no turrets in time: a failed run with a clear message, no status_request storm', async () => {
  const hq = await Hq.bind(options({ min_turrets: 2, turrets_wait_timeout: 1.2 }));
  const t = await FakeTurret.connect(hq.endpoints, { name: 'navigation', oct: false });
  try {
    await new Promise((r) => setTimeout(r, 100));
    await t.status('ready');
    const o = await hq.run();
    assert.equal(o.state, 'failed');
    assert.equal(o.error, `waited 1.2 s for 2 turrets, 1 connected: navigation (${t.uuid})`);
    assert.equal((await fx.store().getRun(o.runId))!.state, 'failed');
    assert.ok(t.commands().filter((c) => c === 'status_request').length <= 1);
  } finally {
    t.close();
    await hq.close();
  }
});

test('duplicates and gaps in batch sequence numbers are counted, duplicates not stored', async () => {
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 0.5 }));
  const t = await FakeTurret.connect(hq.endpoints, { name: 'seq', oct: true });
  try {
    const outcome = hq.run();
    await t.enlist();
    await t.batch(10, { seq: 1 });
    await t.batch(10, { seq: 2 });
    await t.batch(10, { seq: 2 }); // a retry
    await t.batch(10, { seq: 5 }); // 3 and 4 lost
    t.seq = 6; // the turret says it sent 6: one more missing at the end
    await t.waitForOrder('stop');
    await t.status('ready');
    const o = await outcome;
    assert.equal(o.duplicates, 1);
    assert.equal(o.missingBatches, 3);
    assert.equal(await storedRows(o.runId), 30);
  } finally {
    t.close();
    await hq.close();
  }
});

/** Aggregate messages a hostile or broken client might send: each must be refused whole. */
function hostileAggregates(): string[][] {
  const d = new DeltaBuilder();
  for (let i = 0; i < 50; i++) d.record(1, 0.01 * (i + 1), null, null);
  const valid = JSON.parse(encodeAggregate({ uuid: 'hostile', turret: 'bad', seq: 1, seconds: d.take() }));
  const mutate = (f: (m: { seconds: { series: Record<string, unknown>[] }[] } & Record<string, unknown>) => void) => {
    const m = structuredClone(valid);
    f(m);
    return [JSON.stringify(m)];
  };
  return [
    mutate((m) => (m.precision = 3)), // a histogram of another precision
    mutate((m) => ((m.seconds[0]!.series[0]!.b as number[])[1] = -5)), // a negative count
    mutate((m) => (m.seconds[0]!.series[0]!.b = [99_999, 50])), // a bucket no histogram has
    mutate((m) => (m.seconds = 'x'.repeat(1000) as never)), // corrupt
  ];
}

test('every malformed kind is counted without disturbing another turret', async () => {
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 1, max_message_bytes: 64 * 1024 }));
  const good = await FakeTurret.connect(hq.endpoints, { name: 'good', oct: true });
  const bad = await FakeTurret.connect(hq.endpoints, { name: 'bad', oct: true });
  try {
    const outcome = hq.run();
    await good.enlist();
    const sends: Promise<unknown>[] = [];
    const badFrames: (string | Buffer)[][] = [
      ['x'.repeat(70 * 1024)], // oversized
      ['{not json'], // not_json
      ['[1,2]'], // not_object
      ['{"hello":1}'], // unknown_message
      ['{"elapsed":1,"epoch":2}'], // missing_field
      ['{"elapsed":"1","epoch":2,"scriptrun_time":3}'], // bad_field
      [
        JSON.stringify({ oct: 1, type: 'results', encoding: 'f64le-columns', uuid: 'u', turret: 'bad', seq: 1, count: 2, timers: [], errors: [] }),
        Buffer.alloc(13),
      ], // bad_binary
      ['a', 'b', 'c'], // bad_frames
      [Buffer.from([0xff, 0x00, 0xfe, 0x12])], // binary garbage: not_json
      ...hostileAggregates(), // bad_aggregate, 4 kinds
    ];
    for (let i = 0; i < 10; i++) {
      sends.push(good.batch(100));
      for (const f of badFrames) sends.push(bad.raw(f));
    }
    await Promise.all(sends);
    await good.waitForOrder('stop');
    await good.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished');
    assert.deepEqual(o.malformed, {
      oversized: 10,
      not_json: 20,
      not_object: 10,
      unknown_message: 10,
      missing_field: 10,
      bad_field: 10,
      bad_binary: 10,
      bad_frames: 10,
      bad_aggregate: 40,
      series_cap: 0,
      out_of_range: 0,
      seq_out_of_window: 0,
    });
    assert.equal(await storedRows(o.runId), 1000, "all of the good turret's results stored");
    assert.equal(o.transactions, 1000, 'nothing of a refused aggregate was counted');
    const warnings = log.lines.filter((l) => l.includes('malformed message ignored'));
    assert.equal(warnings.filter((l) => l.includes('kind=not_json')).length, 1, 'logged once per kind');
  } finally {
    good.close();
    bad.close();
    await hq.close();
  }
});

test('a delta for a new custom timer series beyond the cap is counted as series_cap and not merged', async () => {
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 1 }));
  const t = await FakeTurret.connect(hq.endpoints, { name: 'many-timers', oct: true });
  try {
    const outcome = hq.run();
    await t.enlist();
    // A turret that does not fold its names: 105 custom timers, over three messages.
    const d = new DeltaBuilder(1000);
    for (let seq = 1; seq <= 3; seq++) {
      for (let k = 0; k < 35; k++) d.record(1, 0.01, null, { [`timer-${seq}-${k}`]: 0.005 });
      await t.raw([encodeAggregate({ uuid: 'many-timers-agg', turret: 'many-timers', seq, seconds: d.take() })]);
    }
    await t.waitForOrder('stop');
    await t.status('ready');
    const o = await outcome;
    assert.equal(o.malformed.series_cap, 5, '105 names, the first 100 kept');
    assert.equal(o.refusedSeries, 5);
    assert.equal(o.transactions, 105, 'the transactions themselves count');
    assert.equal(o.malformed.bad_aggregate, 0);
  } finally {
    t.close();
    await hq.close();
  }
});

test('a silent turret is marked lost and recorded; the others go on', async () => {
  const hq = await Hq.bind(options({ min_turrets: 2, run_time: 2.5, turret_silence_timeout: 1 }));
  const a = await FakeTurret.connect(hq.endpoints, { name: 'talker', oct: true });
  const b = await FakeTurret.connect(hq.endpoints, { name: 'ghost', oct: true });
  let beat: NodeJS.Timeout | undefined;
  try {
    const outcome = hq.run();
    await new Promise((r) => setTimeout(r, 100));
    await a.status('ready');
    await b.status('ready');
    await a.waitForOrder('start');
    await a.status('running');
    await b.status('running');
    beat = setInterval(() => void a.status('running'), 300);
    await until(() => hq.status().turrets.find((t) => t.name === 'ghost')?.state === 'lost', 3000, 'ghost marked lost');
    assert.equal(hq.status().turrets.find((t) => t.name === 'talker')!.state, 'running');
    await a.waitForOrder('stop');
    clearInterval(beat);
    await a.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished');
    const ghost = o.turrets.find((t) => t.name === 'ghost')!;
    assert.equal(ghost.state, 'lost');
    assert.ok(ghost.leftAt);
    const rows = await fx
      .store()
      .sql.query<{ status: string }>(`SELECT status FROM turret_status_changes WHERE run_id = $1 AND name = 'ghost' ORDER BY at`, [o.runId]);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['ready', 'running', 'lost'],
    );
  } finally {
    clearInterval(beat);
    a.close();
    b.close();
    await hq.close();
  }
});

test('an aborted turret is recorded and the test goes on with the others', async () => {
  const hq = await Hq.bind(options({ min_turrets: 2, run_time: 1 }));
  const a = await FakeTurret.connect(hq.endpoints, { name: 'stays', oct: true });
  const b = await FakeTurret.connect(hq.endpoints, { name: 'dies', oct: true });
  try {
    const outcome = hq.run();
    await new Promise((r) => setTimeout(r, 100));
    await a.status('ready');
    await b.status('ready');
    await a.waitForOrder('start');
    await b.status('aborted', { reason: 'script threw at load' });
    await a.status('running');
    await a.batch(10);
    await a.waitForOrder('stop');
    await a.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished');
    assert.equal(o.turrets.find((t) => t.name === 'dies')!.state, 'aborted');
    const [row] = await fx
      .store()
      .sql.query<{ reason: string }>(`SELECT reason FROM turret_status_changes WHERE run_id = $1 AND status = 'aborted'`, [o.runId]);
    assert.equal(row!.reason, 'script threw at load');
  } finally {
    a.close();
    b.close();
  }
  await hq.close();
});

test('an abort signal stops the test early but still drains and finishes', async () => {
  const hq = await Hq.bind(options({ min_turrets: 1, run_time: 60 }));
  const t = await FakeTurret.connect(hq.endpoints, { name: 'x', oct: true });
  try {
    const ac = new AbortController();
    const outcome = hq.run(ac.signal);
    await t.status('ready');
    await t.waitForOrder('start');
    await t.batch(10);
    ac.abort();
    await t.waitForOrder('stop');
    await t.batch(5);
    await t.status('ready');
    const o = await outcome;
    assert.equal(o.state, 'finished');
    assert.equal(await storedRows(o.runId), 15);
  } finally {
    t.close();
    await hq.close();
  }
});
