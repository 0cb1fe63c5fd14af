import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeOrder, orders, parseOrder } from './orders.ts';

test('broadcast orders are framed exactly as the original: one leading space, command and msg', () => {
  assert.equal(encodeOrder(orders.start()), ' {"command":"start","msg":"open fire"}');
  assert.equal(encodeOrder(orders.stop()), ' {"command":"stop","msg":"premature stop"}');
  assert.equal(encodeOrder(orders.statusRequest()), ' {"command":"status_request","msg":null}');
  assert.equal(encodeOrder(orders.kill()), ' {"command":"kill","msg":null}');
  assert.equal(encodeOrder(orders.setTransactionContext({ a: 1 })), ' {"command":"set_transaction_context","msg":{"a":1}}');
});

test('the turret side parses broadcast and topic-prefixed frames, and reports malformed ones', () => {
  const a = parseOrder(' {"command":"start","msg":"open fire"}');
  assert.deepEqual(a, { ok: true, channel: '', order: { command: 'start', msg: 'open fire' } });
  const b = parseOrder('d7b8a1cc {"command":"stop","msg":"premature stop"}');
  assert.equal(b.ok && b.channel, 'd7b8a1cc');
  assert.equal(parseOrder('garbage').ok, false);
  assert.equal(parseOrder(' {"command":"dance","msg":null}').ok, false);
  assert.equal(parseOrder(' {"msg":null}').ok, false);
  assert.equal(parseOrder(' {"command":"set_transaction_context","msg":3}').ok, false);
  const c = parseOrder(' {"command":"kill"}');
  assert.deepEqual(c, { ok: true, channel: '', order: { command: 'kill', msg: null } });
});
