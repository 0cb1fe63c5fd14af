import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock } from '../common/clock.ts';
import type { TurretStatus } from '../protocol/incoming.ts';
import { normaliseState } from '../protocol/incoming.ts';
import { type TurretChange, TurretRegistry } from './turret-registry.ts';

function fakeClock(): Clock & { t: number } {
  const c = { t: 1_000_000, now: () => c.t, monotonic: () => c.t };
  return c;
}

function status(uuid: string, raw: string, extra: Partial<TurretStatus> = {}): TurretStatus {
  return {
    uuid,
    name: `t-${uuid}`,
    rawStatus: raw,
    state: normaliseState(raw),
    canons: 2,
    rampup: 0,
    script: 's',
    oct: false,
    lastSeq: null,
    canonsRunning: null,
    planId: null,
    health: null,
    reason: null,
    heartbeatMs: null,
    ...extra,
  } as TurretStatus;
}

test('records first seen and every state change, case-insensitively', () => {
  const clock = fakeClock();
  const changes: TurretChange[] = [];
  const r = new TurretRegistry({ clock, silenceTimeoutMs: 10_000, onChange: (c) => changes.push({ ...c, entry: { ...c.entry } }) });
  assert.equal(r.onStatus(status('a', 'READY')).isNew, true);
  assert.equal(r.onStatus(status('a', 'ready')).isNew, false);
  clock.t += 500;
  r.onStatus(status('a', 'Running'));
  assert.deepEqual(
    changes.map((c) => [c.previous, c.entry.state]),
    [
      [null, 'ready'],
      ['ready', 'running'],
    ],
  );
  assert.equal(r.get('a')!.joinedAt, 1_000_000);
  assert.equal(r.canonsRunning(), 2);
});

test('silent turrets become lost, and come back', () => {
  const clock = fakeClock();
  const r = new TurretRegistry({ clock, silenceTimeoutMs: 1000 });
  r.onStatus(status('a', 'Running'));
  r.onStatus(status('b', 'Running', { oct: true }));
  clock.t += 600;
  r.onResults('a', 10);
  clock.t += 600;
  assert.deepEqual(
    r.markSilentLost().map((e) => e.uuid),
    ['b'],
  );
  assert.equal(r.get('b')!.leftAt, clock.t);
  assert.equal(r.presentCount(), 1);
  r.onStatus(status('b', 'Running', { oct: true }));
  assert.equal(r.get('b')!.state, 'running');
  assert.equal(r.get('b')!.leftAt, null);
});

test('legacy results are attributed only when exactly one legacy turret is present', () => {
  const r = new TurretRegistry({ clock: fakeClock(), silenceTimeoutMs: 1000 });
  r.onStatus(status('o', 'ready', { oct: true }));
  assert.equal(r.attribute(null), null);
  r.onStatus(status('a', 'ready'));
  assert.equal(r.attribute(null)?.uuid, 'a');
  r.onStatus(status('b', 'ready'));
  assert.equal(r.attribute(null), null);
  r.onStatus(status('b', 'Aborted'));
  assert.equal(r.attribute(null)?.uuid, 'a');
  assert.equal(r.attribute('t-o')?.uuid, 'o', 'a named result goes to the turret of that name');
});

test('an oct turret that says how often it beats is lost after 2.5 beats; a legacy turret keeps the timeout', () => {
  const clock = fakeClock();
  const reg = new TurretRegistry({ clock, silenceTimeoutMs: 10_000 });
  reg.onStatus(status('oct', 'Running', { oct: true, heartbeatMs: 1000 }));
  reg.onStatus(status('old-oct', 'Running', { oct: true }));
  reg.onStatus(status('legacy', 'Running'));
  clock.t += 2400;
  assert.deepEqual(reg.markSilentLost(), []);
  clock.t += 200;
  assert.deepEqual(
    reg.markSilentLost().map((e) => e.uuid),
    ['oct'],
  );
  clock.t += 7500;
  assert.deepEqual(
    reg
      .markSilentLost()
      .map((e) => e.uuid)
      .sort(),
    ['legacy', 'old-oct'],
  );
});
