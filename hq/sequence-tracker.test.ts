import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEQ_WINDOW, SequenceTracker } from './sequence-tracker.ts';
import { DeliveryTracker } from './delivery.ts';

test('duplicates are rejected, gaps counted, per turret', () => {
  const s = new SequenceTracker();
  assert.equal(s.accept('a', 1), 'new');
  assert.equal(s.accept('a', 2), 'new');
  assert.equal(s.accept('a', 2), 'duplicate');
  assert.equal(s.accept('a', 1), 'duplicate');
  assert.equal(s.accept('a', 5), 'new');
  assert.equal(s.accept('b', 1), 'new');
  assert.equal(s.duplicates, 2);
  assert.equal(s.missingBatches, 2);
  assert.equal(s.countTrailing('a', 7), 2, 'status says 7 were sent, 5 arrived');
  assert.equal(s.countTrailing('b', 1), 0);
  assert.equal(s.missingBatches, 4);
});

test('a long-lived turret starts from the seq of its first status', () => {
  const s = new SequenceTracker();
  s.baseline('a', 500);
  s.baseline('a', 10); // only the first counts
  assert.equal(s.accept('a', 501), 'new');
  assert.equal(s.missingBatches, 0);
  assert.equal(s.accept('a', 400), 'duplicate');
});

test('a seq far ahead of the highest accepted is refused, so later real batches are not taken for duplicates', () => {
  const s = new SequenceTracker();
  for (let seq = 1; seq <= 3; seq++) assert.equal(s.accept('a', seq), 'new');
  assert.equal(s.accept('a', 1e9), 'out_of_window', 'a forged seq');
  assert.equal(s.accept('a', 3 + SEQ_WINDOW + 1), 'out_of_window', 'just past the window');
  assert.equal(s.highestSeq('a'), 3, 'the refused ones moved nothing');
  for (let seq = 4; seq <= 10; seq++) assert.equal(s.accept('a', seq), 'new');
  assert.equal(s.accept('a', 10 + SEQ_WINDOW), 'new', 'a gap as wide as the window is still believed');
  assert.equal(s.missingBatches, SEQ_WINDOW - 1, 'and counted missing, nothing dropped');
  assert.equal(s.duplicates, 0);
});

test('a status seq far ahead is not plausible and cannot inflate the trailing count', () => {
  const s = new SequenceTracker();
  assert.ok(s.plausible('a', 1e9), 'a turret not yet heard from: its first seq is its start');
  assert.ok(s.plausible('a', null));
  s.baseline('a', 5);
  assert.ok(s.plausible('a', 5 + SEQ_WINDOW));
  assert.ok(!s.plausible('a', 5 + SEQ_WINDOW + 1));
  assert.ok(s.plausible('a', 2), 'behind is fine: statuses report what was sent');
  assert.equal(s.countTrailing('a', 1e9), 0);
  assert.equal(s.highestSeq('a'), 5, 'the end-of-run check still compares against the real highest');
  assert.equal(s.countTrailing('a', 7), 2);
});

test('the first batch of a turret far into its numbering is its start, not a gap', () => {
  const s = new SequenceTracker();
  assert.equal(s.accept('a', 50_000), 'new');
  assert.equal(s.missingBatches, 0);
  assert.equal(s.accept('a', 50_001), 'new');
  assert.equal(s.accept('b', 4), 'new');
  assert.equal(s.missingBatches, 3, 'within the window, a first seq above 1 still counts what came before');
});

test('a re-sent message fills its gap; a restarted HQ seeded with what is stored takes only what is not', () => {
  const s = new SequenceTracker();
  for (const seq of [1, 2, 5, 6]) assert.equal(s.accept('a', seq), 'new');
  assert.equal(s.missingBatches, 2);
  assert.equal(s.accept('a', 3), 'new', 'the lost message, re-sent');
  assert.equal(s.accept('a', 4), 'new');
  assert.equal(s.missingBatches, 0);
  assert.equal(s.accept('a', 4), 'duplicate');

  const restarted = new SequenceTracker();
  restarted.seed([1, 2, 3, 5].map((seq) => ({ uuid: 'a', seq })));
  restarted.baseline('a', 0); // the turret's status comes later and moves nothing
  const verdicts = [1, 2, 3, 4, 5, 6].map((seq) => restarted.accept('a', seq));
  assert.deepEqual(verdicts, ['duplicate', 'duplicate', 'duplicate', 'new', 'duplicate', 'new']);
  assert.equal(restarted.missingBatches, 0);
  assert.equal(restarted.duplicates, 4);
});

test('a restarted HQ of a long run is seeded with every stored message: hundreds of thousands of them', () => {
  // A few messages a second for a day: more seqs than a spread can pass as arguments (Math.min(...seqs) threw).
  const stored = Array.from({ length: 400_000 }, (_, i) => ({ uuid: 'a', seq: 400_000 - i }));
  const restarted = new SequenceTracker();
  restarted.seed(stored);
  restarted.baseline('a', 0);
  assert.equal(restarted.accept('a', 1), 'duplicate');
  assert.equal(restarted.accept('a', 400_000), 'duplicate');
  assert.equal(restarted.accept('a', 400_001), 'new');
  const delivery = new DeliveryTracker(
    () => 0,
    () => false,
  );
  delivery.seed(stored);
  delivery.durable([{ uuid: 'a', seq: 400_001 }]);
  assert.deepEqual(delivery.floor('a'), 400_001, 'every stored message counts as delivered');
});
