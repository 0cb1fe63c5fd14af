import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SequenceTracker } from './sequence-tracker.ts';

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
