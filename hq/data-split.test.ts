import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataSplitter } from './data-split.ts';

const rows = Array.from({ length: 10 }, (_, k) => ({ user: `u${k}` }));

test('unique: each turret gets rows no one had, a joiner too; a turret seen again gets its own rows back', () => {
  const s = new DataSplitter({ file: 'u.csv', policy: 'unique', rows });
  const a = s.share('a', 4);
  const b = s.share('b', 4);
  assert.deepEqual(a.rows, rows.slice(0, 4));
  assert.deepEqual(b.rows, rows.slice(4, 8));
  assert.deepEqual(s.share('a', 4).rows, a.rows);
  const late = s.share('c', 4);
  assert.deepEqual(late, { rows: rows.slice(8), short: 2 });
  assert.equal(s.share('d', 1).short, 1);
});

test('round-robin wraps through the file; random draws rows of the file', () => {
  const rr = new DataSplitter({ file: 'u.csv', policy: 'round-robin', rows });
  rr.share('a', 8);
  assert.deepEqual(rr.share('b', 4).rows, [rows[8], rows[9], rows[0], rows[1]]);
  let i = 0;
  const random = new DataSplitter({ file: 'u.csv', policy: 'random', rows }, () => [0.05, 0.95, 0.5][i++ % 3]!);
  assert.deepEqual(random.share('a', 3).rows, [rows[0], rows[9], rows[5]]);
});
