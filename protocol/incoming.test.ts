import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeBinaryBatch } from './binary-batch.ts';
import { parseIncoming } from './incoming.ts';
import { encodeStatus } from './status.ts';
import { ResultBatchBuilder, batchRows, type ResultRow } from './results.ts';

const opts = { maxMessageBytes: 1024 * 1024 };
const frame = (v: unknown) => [Buffer.from(typeof v === 'string' ? v : JSON.stringify(v))];

test('a legacy Python status is a status, with its lower-case "ready" and "cannons"', () => {
  const msg = parseIncoming(frame({ turret: 'navigation', status: 'ready', uuid: 'u-1', rampup: 0, script: 'v_user.py', cannons: 2 }), opts);
  assert.equal(msg.kind, 'status');
  if (msg.kind !== 'status') return;
  assert.equal(msg.status.state, 'ready');
  assert.equal(msg.status.canons, 2);
  assert.equal(msg.status.oct, false);
  for (const [raw, state] of [
    ['READY', 'ready'],
    ['Running', 'running'],
    ['Aborted', 'aborted'],
    ['Killed', 'killed'],
  ] as const) {
    const m = parseIncoming(frame({ turret: 't', status: raw, uuid: 'u' }), opts);
    assert.equal(m.kind === 'status' && m.status.state, state);
  }
});

test('a legacy result without turret_name is a result; its empty error is a success', () => {
  const msg = parseIncoming(frame({ elapsed: 12.48, epoch: 1453731738, scriptrun_time: 1.2, error: '', custom_timers: { Example_Timer: 0.6 } }), opts);
  assert.equal(msg.kind, 'results');
  if (msg.kind !== 'results') return;
  assert.deepEqual(batchRows(msg.batch), [{ elapsed: 12.48, epoch: 1453731738, scriptrunTime: 1.2, error: null, customTimers: { Example_Timer: 0.6 } }]);
  assert.equal(msg.batch.turretName, null);
});

test('a result whose error text mentions "status" is still a result (the original dropped it)', () => {
  const msg = parseIncoming(frame({ elapsed: 1, epoch: 2, scriptrun_time: 0.1, error: 'bad status 503', custom_timers: {} }), opts);
  assert.equal(msg.kind, 'results');
  if (msg.kind === 'results') assert.equal(batchRows(msg.batch)[0]!.error, 'bad status 503');
});

test('extra keys are accepted', () => {
  const msg = parseIncoming(frame({ elapsed: 1, epoch: 2, scriptrun_time: 0.1, error: '', custom_timers: {}, turret_name: 'x', extra: [1] }), opts);
  assert.equal(msg.kind === 'results' && msg.batch.turretName, 'x');
});

test('every kind of bad input becomes a counted kind, never an exception', () => {
  const cases: [Buffer[], string][] = [
    [frame('{not json'), 'not_json'],
    [[Buffer.from([0xff, 0x00, 0xfe, 0x13, 0x37])], 'not_json'],
    [frame('[1,2,3]'), 'not_object'],
    [frame('42'), 'not_object'],
    [frame({ hello: 'world' }), 'unknown_message'],
    [frame({ elapsed: 1, epoch: 2 }), 'missing_field'],
    [frame({ elapsed: 'x', epoch: 2, scriptrun_time: 1 }), 'bad_field'],
    [frame({ elapsed: 1, epoch: 2, scriptrun_time: 1, custom_timers: { a: 'slow' } }), 'bad_field'],
    [frame({ status: 'ready', uuid: 7 }), 'bad_field'],
    [[Buffer.alloc(opts.maxMessageBytes + 1, 0x20)], 'oversized'],
    [[Buffer.from('{}'), Buffer.from('{}'), Buffer.from('{}')], 'bad_frames'],
    [[Buffer.from('{"a":1}'), Buffer.from('xx')], 'bad_frames'],
    [
      [
        Buffer.from(JSON.stringify({ oct: 1, type: 'results', encoding: 'f64le-columns', uuid: 'u', seq: 1, count: 2, timers: [], errors: [] })),
        Buffer.alloc(10),
      ],
      'bad_binary',
    ],
    [frame({ oct: 1, type: 'results', results: 'nope' }), 'missing_field'],
  ];
  for (const [frames, kind] of cases) {
    const msg = parseIncoming(frames, opts);
    assert.equal(msg.kind, 'invalid', `expected invalid for ${frames[0]!.toString().slice(0, 40)}`);
    if (msg.kind === 'invalid') assert.equal(msg.malformed, kind, msg.detail);
  }
});

test('arbitrary bytes never throw', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 0, maxLength: 3 }), (arrays) => {
      const msg = parseIncoming(
        arrays.map((a) => Buffer.from(a)),
        opts,
      );
      assert.ok(['status', 'results', 'invalid'].includes(msg.kind));
    }),
  );
});

const rowArb = fc.record({
  elapsed: fc.double({ min: 0, max: 1e6, noNaN: true }),
  epoch: fc.double({ min: 0, max: 2e9, noNaN: true }),
  scriptrunTime: fc.double({ min: 0, max: 100, noNaN: true }),
  error: fc.option(fc.string({ minLength: 1 }), { nil: null }),
  customTimers: fc.dictionary(fc.constantFrom('a', 'b', '<script>x</script>', 'é t'), fc.double({ min: 0, max: 100, noNaN: true })),
});

function canonical(rows: ResultRow[]) {
  // -0 and 0 are the same duration
  return rows.map((r) => ({ ...r, customTimers: Object.fromEntries(Object.entries(r.customTimers).sort()) }));
}

test('binary batches round-trip every row, error and timer', () => {
  fc.assert(
    fc.property(fc.array(rowArb, { maxLength: 50 }), fc.integer({ min: 1, max: 1e9 }), (rows, seq) => {
      const b = new ResultBatchBuilder();
      rows.forEach((r) => b.add(r));
      const [header, payload] = encodeBinaryBatch(b.build({ turretUuid: 'u', turretName: 't', seq }), { uuid: 'u', turret: 't', seq });
      const msg = parseIncoming([Buffer.from(header), payload], opts);
      assert.equal(msg.kind, 'results', msg.kind === 'invalid' ? msg.detail : '');
      if (msg.kind !== 'results') return;
      assert.equal(msg.batch.seq, seq);
      assert.equal(msg.batch.turretUuid, 'u');
      assert.deepEqual(canonical(batchRows(msg.batch)), canonical(rows));
    }),
  );
});

test('a misaligned binary payload is copied, not rejected', () => {
  const b = new ResultBatchBuilder();
  b.add({ elapsed: 1, epoch: 2, scriptrunTime: 3, error: null, customTimers: {} });
  const [header, payload] = encodeBinaryBatch(b.build({ turretUuid: 'u', turretName: 't', seq: 1 }), { uuid: 'u', turret: 't', seq: 1 });
  const shifted = Buffer.alloc(payload.length + 1);
  payload.copy(shifted, 1);
  const msg = parseIncoming([Buffer.from(header), shifted.subarray(1)], opts);
  assert.equal(msg.kind, 'results');
});

test("oct's status carries its last seq and health", () => {
  const text = encodeStatus({
    uuid: 'u',
    name: 'n',
    status: 'running',
    canons: 4,
    rampup: 2,
    script: 's.ts',
    lastSeq: 17,
    canonsRunning: 3,
    health: { elu: 0.5, cpu: 0.7, lagMs: 3 },
  });
  const msg = parseIncoming(frame(text), opts);
  assert.equal(msg.kind, 'status');
  if (msg.kind !== 'status') return;
  assert.equal(JSON.parse(text).status, 'Running');
  assert.deepEqual([msg.status.oct, msg.status.lastSeq, msg.status.canonsRunning, msg.status.health?.cpu], [true, 17, 3, 0.7]);
});
