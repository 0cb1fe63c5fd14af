import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConfigError } from '../protocol/config.ts';
import { junitXml, xmlEscape } from './junit.ts';
import type { LatencyStats, SeriesStats } from './stats.ts';
import { evaluateThresholds, formatThresholdsTable, parseThresholds } from './thresholds.ts';

function series(name: string, total: boolean, o: Partial<LatencyStats>): SeriesStats {
  const overall: LatencyStats = {
    count: 1000,
    errors: 5,
    min: 0.01,
    mean: 0.1,
    stdev: 0.02,
    p50: 0.09,
    p80: 0.12,
    p90: 0.15,
    p95: 0.2,
    p99: 0.4,
    max: 1,
    throughput: 120,
    ...o,
  };
  return { name, total, overall, bins: [], histogram: [] };
}
const SERIES = [series('All transactions', true, {}), series('Example_Timer', false, { p99: 2.5 })];

test('parses the documented forms into base units', () => {
  const t = parseThresholds({ p95: '<500ms', error_rate: '<1%', throughput: '>100/s', errors: '<= 10', Example_Timer: { p99: '<2s', mean: '<=1.5e2ms' } });
  assert.deepEqual(
    t.map((x) => [x.key, x.series, x.metric, x.op, x.limit]),
    [
      ['p95', 'All transactions', 'p95', '<', 0.5],
      ['error_rate', 'All transactions', 'error_rate', '<', 0.01],
      ['throughput', 'All transactions', 'throughput', '>', 100],
      ['errors', 'All transactions', 'errors', '<=', 10],
      ['Example_Timer.p99', 'Example_Timer', 'p99', '<', 2],
      ['Example_Timer.mean', 'Example_Timer', 'mean', '<=', 0.15],
    ],
  );
  assert.deepEqual(parseThresholds(undefined), []);
});

test('a bad threshold names its key and what is wrong, all at once', () => {
  const bad = { p96: '<1s', p95: '500ms', error_rate: '<1', throughput: '>100ms', count: '<5%', Timer: { p99: 3 }, max: '<abc' };
  assert.throws(
    () => parseThresholds(bad),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const m = err.message;
      for (const needle of [
        'thresholds.p96: unknown metric "p96"',
        'thresholds.p95: "500ms" is not a comparison',
        'thresholds.error_rate: "<1" needs a percentage',
        'thresholds.throughput: ">100ms" is a rate',
        'thresholds.count: "<5%" is a count',
        'thresholds.Timer.p99: expected a string',
        'thresholds.max: "<abc" is not a comparison',
      ])
        assert.ok(m.includes(needle), `${needle}\nin: ${m}`);
      return true;
    },
  );
  assert.throws(() => parseThresholds({ p95: '<500' }), /needs a time unit/);
});

test('evaluates pass and fail over the merged series', () => {
  const v = evaluateThresholds(
    parseThresholds({ p95: '<500ms', error_rate: '<1%', throughput: '>100/s', Example_Timer: { p99: '<2s' }, Missing: { p50: '<1s' } }),
    SERIES,
  );
  assert.deepEqual(
    v.results.map((r) => [r.key, r.passed]),
    [
      ['p95', true],
      ['error_rate', true],
      ['throughput', true],
      ['Example_Timer.p99', false],
      ['Missing.p50', false],
    ],
  );
  assert.equal(v.passed, false);
  assert.match(v.results[4]!.detail, /no series "Missing"/);
  const table = formatThresholdsTable(v);
  assert.match(table, /FAIL\s+Example_Timer\s+p99\s+<2s\s+2\.5s/);
  assert.match(table, /thresholds: 2 of 5 failed/);
  assert.equal(evaluateThresholds(parseThresholds({ p95: '<500ms' }), SERIES).passed, true);
  assert.equal(evaluateThresholds([], SERIES).passed, true);
});

// xmllint is in Debian's libxml2-utils; Python's expat parser is always there.
function parseXml(xml: string): { tests: number; failures: number; names: string[]; messages: string[] } {
  const py = `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
suite = root.find('testsuite')
cases = suite.findall('testcase')
print(json.dumps({'tests': int(suite.get('tests')), 'failures': int(suite.get('failures')),
  'names': [c.get('name') for c in cases], 'messages': [c.find('failure').get('message') for c in cases if c.find('failure') is not None]}))`;
  return JSON.parse(execFileSync('python3', ['-c', py], { input: xml }).toString());
}

test('JUnit XML: one test case per threshold, valid and escaped', () => {
  const weird = 'T<&>"\'\u0001\u2028]]>';
  const v = evaluateThresholds(parseThresholds({ p95: '<50ms', error_rate: '<1%', [weird]: { p99: '<2s' } }), [...SERIES, series(weird, false, { p99: 3 })]);
  const parsed = parseXml(junitXml(v));
  assert.equal(parsed.tests, 3);
  assert.equal(parsed.failures, 2);
  assert.deepEqual(parsed.names, ['All transactions: p95 <50ms', 'All transactions: error_rate <1%', `T<&>"'\u2028]]>: p99 <2s`]);
  assert.match(parsed.messages[0]!, /p95 = 200ms, limit <50ms/);
});

test('xmlEscape output always parses back to the input minus forbidden characters (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const xml = `<a b="${xmlEscape(s)}">${xmlEscape(s)}</a>`;
      const out = execFileSync(
        'python3',
        ['-c', 'import sys,json,xml.etree.ElementTree as ET; e=ET.fromstring(sys.stdin.buffer.read()); print(json.dumps([e.get("b"), e.text or ""]))'],
        { input: xml },
      ).toString();
      const [attr, text] = JSON.parse(out) as [string, string];
      const expected = [...s].filter((c) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF]/.test(c.length === 1 ? c : 'x')).join('');
      // XML normalises line ends and attribute whitespace; compare modulo that.
      const norm = (x: string) => x.replace(/\r\n?/g, '\n').replace(/[\t\n\r]/g, ' ');
      assert.equal(norm(attr), norm(expected));
      assert.equal(text.replace(/\r\n?/g, '\n'), expected.replace(/\r\n?/g, '\n'));
    }),
    { numRuns: 60 },
  );
});

test('checks: "checks": {name: ">99%"} judges that check\'s pass rate, at the end and as a series live', () => {
  const [t] = parseThresholds({ checks: { 'login ok': '>99%' } });
  assert.deepEqual(
    { key: t!.key, series: t!.series, metric: t!.metric, limit: t!.limit },
    { key: 'checks.login ok', series: 'check: login ok', metric: 'pass_rate', limit: 0.99 },
  );
  const judged = (passes: number, fails: number) =>
    evaluateThresholds([t!], [], undefined, { checks: [{ name: 'login ok', passes, fails, passRate: passes / (passes + fails) }] }).results[0]!;
  assert.equal(judged(995, 5).passed, true);
  const failed = judged(90, 10);
  assert.equal(failed.passed, false);
  assert.equal(failed.detail, 'pass_rate = 90% (10 of 100 failed), limit >99%');
  assert.equal(evaluateThresholds([t!], [], undefined, {}).results[0]!.passed, false);
  assert.throws(() => parseThresholds({ checks: { x: '>99ms' } }), /needs a percentage/);
  // Not compared with a baseline: refused at once, not failed after every run.
  assert.throws(() => parseThresholds({ checks: { x: '>-5%' } }), /thresholds\.checks\.x: ">-5%": a check.s pass rate cannot be relative to a baseline/);
  assert.throws(() => parseThresholds({ 'check: x': { pass_rate: '>-5%' } }), /a check.s pass rate cannot be relative/);
  assert.throws(() => parseThresholds({ checks: '>99%' }), /thresholds\.checks: expected an object/);
});
