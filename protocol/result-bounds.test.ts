// Every result parser (a legacy single result, a JSON batch, a binary batch) bounds each value the
// same way: in range is stored (a clock step below 0 as 0), beyond is `out_of_range` for the whole message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBinaryBatch } from './binary-batch.ts';
import { parseIncoming } from './incoming.ts';
import {
  CLOCK_TOLERANCE_SECONDS,
  MAX_DURATION_SECONDS,
  MAX_ELAPSED_SECONDS,
  MAX_EPOCH_SKEW_SECONDS,
  ResultBatchBuilder,
  type ResultRow,
  batchRows,
} from './results.ts';

const NOW = 1_764_642_000;
const opts = { maxMessageBytes: 1 << 20, nowSeconds: NOW };
const ok: ResultRow = { elapsed: 1, epoch: NOW, scriptrunTime: 0.1, error: null, customTimers: { t: 0.05 } };

/** The same rows in each of the three forms, as frames. */
function forms(rows: ResultRow[]): [string, Buffer[]][] {
  const json = (r: ResultRow) => ({ elapsed: r.elapsed, epoch: r.epoch, scriptrun_time: r.scriptrunTime, error: r.error ?? '', custom_timers: r.customTimers });
  const b = new ResultBatchBuilder();
  for (const r of rows) b.add(r);
  const [header, payload] = encodeBinaryBatch(b.build({ turretUuid: 'u', turretName: 't', seq: 1 }), { uuid: 'u', turret: 't', seq: 1 });
  const out: [string, Buffer[]][] = [
    ['json batch', [Buffer.from(JSON.stringify({ oct: 1, type: 'results', uuid: 'u', turret: 't', seq: 1, results: rows.map(json) }))]],
    ['binary batch', [Buffer.from(header), payload]],
  ];
  if (rows.length === 1) out.push(['single result', [Buffer.from(JSON.stringify(json(rows[0]!)))]]);
  return out;
}

const edges: [string, Partial<ResultRow>][] = [
  ['elapsed at its maximum', { elapsed: MAX_ELAPSED_SECONDS }],
  ['elapsed a clock step below 0', { elapsed: -CLOCK_TOLERANCE_SECONDS }],
  ['scriptrun_time of a day', { scriptrunTime: MAX_DURATION_SECONDS }],
  ['scriptrun_time a clock step below 0', { scriptrunTime: -CLOCK_TOLERANCE_SECONDS }],
  ['a custom timer of a day', { customTimers: { t: MAX_DURATION_SECONDS } }],
  ['a custom timer a clock step below 0', { customTimers: { t: -CLOCK_TOLERANCE_SECONDS } }],
  ['epoch a day behind the HQ', { epoch: NOW - MAX_EPOCH_SKEW_SECONDS }],
  ['epoch a day ahead of the HQ', { epoch: NOW + MAX_EPOCH_SKEW_SECONDS }],
];

const beyond: [string, Partial<ResultRow>][] = [
  ['elapsed of 1e308', { elapsed: 1e308 }],
  ['elapsed just past its maximum', { elapsed: MAX_ELAPSED_SECONDS + 0.001 }],
  ['elapsed negative beyond the tolerance', { elapsed: -CLOCK_TOLERANCE_SECONDS - 0.001 }],
  ['scriptrun_time of 1e300', { scriptrunTime: 1e300 }],
  ['scriptrun_time past a day', { scriptrunTime: MAX_DURATION_SECONDS + 0.001 }],
  ['scriptrun_time negative beyond the tolerance', { scriptrunTime: -2 }],
  ['a custom timer past a day', { customTimers: { t: 1e300 } }],
  ['a custom timer negative beyond the tolerance', { customTimers: { t: -1e9 } }],
  ['epoch of 0', { epoch: 0 }],
  ['epoch more than a day ahead', { epoch: NOW + MAX_EPOCH_SKEW_SECONDS + 1 }],
  ['epoch more than a day behind', { epoch: NOW - MAX_EPOCH_SKEW_SECONDS - 1 }],
];

test('values at every bound are accepted, in every form', () => {
  for (const [what, change] of edges) {
    const row = { ...ok, ...change };
    for (const [form, frames] of forms([row])) {
      const msg = parseIncoming(frames, opts);
      assert.equal(msg.kind, 'results', `${what}, ${form}: ${msg.kind === 'invalid' ? msg.detail : ''}`);
      // A clock step below 0 is taken as 0.
      const stored = {
        ...row,
        elapsed: Math.max(0, row.elapsed),
        scriptrunTime: Math.max(0, row.scriptrunTime),
        customTimers: { t: Math.max(0, row.customTimers.t!) },
      };
      if (msg.kind === 'results') assert.deepEqual(batchRows(msg.batch), [stored], `${what}, ${form}`);
    }
  }
});

test('one value beyond a bound refuses the whole message as out_of_range, in every form', () => {
  for (const [what, change] of beyond) {
    for (const [form, frames] of forms([ok, { ...ok, ...change }, ok])) {
      const msg = parseIncoming(frames, opts);
      assert.equal(msg.kind, 'invalid', `${what}, ${form}`);
      if (msg.kind === 'invalid') {
        assert.equal(msg.malformed, 'out_of_range', `${what}, ${form}: ${msg.detail}`);
        assert.match(msg.detail, /\[1\]|result 1/, `${what}, ${form}: the detail names the result`);
      }
    }
    const [, single] = forms([{ ...ok, ...change }]).find(([form]) => form === 'single result')!;
    const msg = parseIncoming(single, opts);
    assert.equal(msg.kind === 'invalid' && msg.malformed, 'out_of_range', `${what}, single result`);
  }
});

test('the epoch is checked only against a clock the caller gives', () => {
  const msg = parseIncoming(forms([{ ...ok, epoch: 2 }])[0]![1], { maxMessageBytes: 1 << 20 });
  assert.equal(msg.kind, 'results');
});

test('a wrong type is bad_field, and a non-finite binary value bad_binary, before any range', () => {
  const typed = parseIncoming([Buffer.from(JSON.stringify({ elapsed: 1e308, epoch: 'x', scriptrun_time: 1 }))], opts);
  assert.equal(typed.kind === 'invalid' && typed.malformed, 'bad_field');
  for (const [col, v] of [
    ['scriptrunTime', NaN],
    ['elapsed', Infinity],
  ] as const) {
    const [, frames] = forms([ok, { ...ok, [col]: v, elapsed: col === 'elapsed' ? v : 1e308 }])[1]!;
    const msg = parseIncoming(frames, opts);
    assert.equal(msg.kind === 'invalid' && msg.malformed, 'bad_binary', `${col} ${v}`);
  }
  const [, inf] = forms([{ ...ok, customTimers: { t: -Infinity } }])[1]!;
  const msg = parseIncoming(inf, opts);
  assert.equal(msg.kind === 'invalid' && msg.malformed, 'bad_binary', 'an infinite timer is no time either');
  const [, unset] = forms([ok, { ...ok, customTimers: {} }])[1]!;
  assert.equal(parseIncoming(unset, opts).kind, 'results', 'NaN is a timer not set in a binary batch');
});
