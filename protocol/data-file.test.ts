import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from './config.ts';
import { checkRowsSuffice, parseDataText } from './data-file.ts';
import { groupedPath, isIdSegment } from './series-names.ts';

const issues = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return `${err.source}: ${err.issues.join(' | ')}`;
  }
  assert.fail('no error');
};

test('CSV: header names the fields; quoted fields keep commas, quotes and line breaks; CRLF and a BOM are fine', () => {
  const rows = parseDataText('\ufeffuser,password,note\r\nalice,"a,b","say ""hi"""\r\nbob,x,"two\nlines"\r\n\r\n', 'u.csv');
  assert.deepEqual(rows, [
    { user: 'alice', password: 'a,b', note: 'say "hi"' },
    { user: 'bob', password: 'x', note: 'two\nlines' },
  ]);
});

test('CSV problems name the file, the line and the counts', () => {
  assert.equal(
    issues(() => parseDataText('a,b\n1,2\n3\n4,5,6\n', 'r.csv')),
    'r.csv: line 3: 1 fields, the header has 2 (a, b) | line 4: 3 fields, the header has 2 (a, b)',
  );
  assert.match(
    issues(() => parseDataText('', 'e.csv')),
    /^e\.csv: the data file is empty/,
  );
  assert.match(
    issues(() => parseDataText('a,b\n', 'h.csv')),
    /a header \(a, b\) and no rows/,
  );
  assert.match(
    issues(() => parseDataText('a,a\n1,2\n', 'd.csv')),
    /names "a" twice/,
  );
  assert.match(
    issues(() => parseDataText('a\n"open\n', 'q.csv')),
    /line 2: a quoted field is never closed/,
  );
});

test('JSON lines: one value per line, blank lines skipped, a bad line named', () => {
  assert.deepEqual(parseDataText('{"u":1}\n\n[2]\n"x"\n', 'd.jsonl'), [{ u: 1 }, [2], 'x']);
  assert.match(
    issues(() => parseDataText('{"u":1}\n{oops\n', 'd.ndjson')),
    /^d\.ndjson: line 2: not valid JSON/,
  );
  assert.match(
    issues(() => parseDataText('\n \n', 'e.jsonl')),
    /no JSON lines/,
  );
});

test('unique needs a row per canon; the other policies share rows', () => {
  const data = { file: 'u.csv', policy: 'unique' as const, rows: [1, 2, 3] };
  assert.equal(
    issues(() => checkRowsSuffice(data, 4, 'u.csv')),
    'u.csv: data: u.csv has 3 rows, and the "unique" policy gives each of the 4 canons its own: add rows, run fewer canons, or use "policy": "round-robin"',
  );
  checkRowsSuffice(data, 3, 'u.csv');
  checkRowsSuffice({ ...data, policy: 'round-robin' }, 100, 'u.csv');
});

test('grouped names: ids, uuids, hex and long tokens become :id; words, versions and the query do not count', () => {
  assert.equal(groupedPath('http://h/orders/123?page=2'), '/orders/:id');
  assert.equal(groupedPath('http://h/u/3f2a1c9e-8b7d-4e6f-a1b2-c3d4e5f60718/cart'), '/u/:id/cart');
  assert.equal(groupedPath('http://h/blob/deadbeef99/x'), '/blob/:id/x');
  assert.equal(groupedPath('http://h/t/eyJhbGciOiJIUzI1NiJ9abc1/'), '/t/:id/');
  assert.equal(groupedPath('http://h/api/v2/users/me'), '/api/v2/users/me');
  assert.equal(groupedPath('http://h/'), '/');
  for (const s of ['v1', 'users', 'abcdefabcdef', 'index.html', '']) assert.equal(isIdSegment(s), false, s);
});
