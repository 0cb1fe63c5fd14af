import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress, formatProgressLine, type ProgressSnapshot } from './progress.ts';

class Capture extends Writable {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 160,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

function snap(over: Partial<ProgressSnapshot> = {}): ProgressSnapshot {
  return {
    state: 'running',
    elapsedSeconds: 20,
    runTime: 30,
    turrets: { total: 1, byState: { running: 1 } },
    canonsRunning: 0,
    transactions: 4906,
    errors: 0,
    ratePerSecond: 245.3,
    malformed: 0,
    ...over,
  };
}

function manualClock() {
  const c = { ms: 0, now: () => c.ms, monotonic: () => c.ms };
  return c;
}

test('the line reads like the original, plus rate', () => {
  assert.equal(formatProgressLine(snap()), 'turrets: 1, elapsed: 20.0   transactions: 4906  errors: 0  rate: 245.3/s');
  assert.equal(
    formatProgressLine(snap({ state: 'draining', turrets: { total: 3, byState: { running: 2, lost: 1 } }, canonsRunning: 20, malformed: 2 })),
    'turrets: 3 (2 running), elapsed: 20.0   transactions: 4906  errors: 0  rate: 245.3/s  canons: 20  malformed: 2  [draining]',
  );
});

test('not a terminal: one plain line every few seconds, a line on each state change, the last one on stop', () => {
  const out = new Capture(false);
  const clock = manualClock();
  const p = createProgress({ enabled: true, bar: true, out, runTime: 30, plainEverySeconds: 5, clock });
  p.start();
  for (let s = 0; s <= 12; s++) {
    clock.ms = s * 1000;
    p.update(snap({ elapsedSeconds: s, transactions: s * 100 }));
  }
  clock.ms = 12_500;
  p.update(snap({ state: 'draining', elapsedSeconds: 12.5, transactions: 1250 }));
  clock.ms = 13_000;
  p.update(snap({ state: 'draining', elapsedSeconds: 13, transactions: 1300 }));
  p.stop();
  const lines = out.text.trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => /transactions: (\d+)/.exec(l)![1]),
    ['0', '500', '1000', '1250', '1300'],
  );
  assert.ok(!out.text.includes('\r') && !out.text.includes('\x1b'), 'no terminal control codes in plain mode');
});

test('progress_bar false on a terminal still gives plain lines', () => {
  const out = new Capture(true);
  const p = createProgress({ enabled: true, bar: false, out, runTime: 30, clock: manualClock() });
  p.update(snap());
  p.stop();
  assert.equal(out.text, `${formatProgressLine(snap())}\n`);
});

test('disabled writes nothing', () => {
  const out = new Capture(true);
  const p = createProgress({ enabled: false, bar: true, out, runTime: 30 });
  p.start();
  p.update(snap());
  p.stop();
  assert.equal(out.text, '');
});

test('a terminal with progress_bar gets a bar redrawn in place, ending with the final line', async () => {
  const out = new Capture(true);
  const p = createProgress({ enabled: true, bar: true, out, runTime: 10 });
  p.start();
  for (let s = 1; s <= 5; s++) {
    p.update(snap({ elapsedSeconds: s, runTime: 10, transactions: s * 1000 }));
    await sleep(120);
  }
  p.update(snap({ state: 'draining', elapsedSeconds: 11, runTime: 10, transactions: 11_000 }));
  p.stop();
  // cli-progress moves the cursor back to column 0 to redraw (ESC [ 1 G or \r).
  assert.match(out.text, /\x1b\[\d*G|\r/);
  assert.match(out.text, /50% \| turrets: 1, elapsed: 5\.0 {3}transactions: 5000/);
  const tail = out.text.slice(out.text.lastIndexOf('100%'));
  assert.match(tail, /100% \| turrets: 1, elapsed: 11\.0 {3}transactions: 11000 .*\[draining\]/);
  assert.ok(out.text.endsWith('\n'), 'the bar ends its line on stop');
});
