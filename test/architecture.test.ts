// The import graph's rules. The production folders are what `oct` runs and what the images ship;
// an import from them into cli/ makes a lower layer depend on the command line, and one into test/
// or bench/ ships test code to users. Test files share code through test/support/, never by
// importing each other, so running one test file never runs another's tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { importEdges, importSpecifiers, REPO_ROOT, repoFiles, sourceFiles } from './support/import-graph.ts';
import { stringLiterals } from './support/string-literals.ts';

const PRODUCTION = ['turret', 'hq', 'store', 'report', 'deploy', 'protocol', 'common'];
const ABOVE_PRODUCTION = ['cli', 'test', 'bench'];
const TEST_FILE = /\.test\.ts$/;
// Helper-like names: test-support.ts, test-fixture.ts, prometheus-testing.ts, testing/, fixtures/,
// metrics-bench.ts, mocks/. Test files themselves (*.test.ts) are allowed beside their code.
const HELPER_NAME = /(^|[/-])test-?(support|fixtures?|helpers?|utils?|batches)([./-]|$)|(^|[/-])(testing|fixtures?|mocks?|bench)([./-]|$)/;

const topFolder = (path: string) => path.split('/')[0]!;
const files = sourceFiles();
const edges = importEdges(files);
const list = (lines: string[]) => `\n  ${lines.join('\n  ')}\n`;

describe('import graph', () => {
  it('reads every form of import', () => {
    const source = [
      "import { a,\n  b } from './multi-line.ts';",
      "import type { T } from '../types.ts';",
      "export { c } from './re-export.ts';",
      "export * from './star.ts';",
      "import './side-effect.ts';",
      "const m = await import('./dynamic.ts');",
      "type S = import('./type-position.ts').S;",
      "import { z } from 'zod';",
    ].join('\n');
    assert.deepEqual(
      new Set(importSpecifiers(source)),
      new Set(['./multi-line.ts', '../types.ts', './re-export.ts', './star.ts', './side-effect.ts', './dynamic.ts', './type-position.ts', 'zod']),
    );
  });

  it('sees the repository (so the rules below are not passing on nothing)', () => {
    assert.ok(files.includes('turret/turret.ts') && files.includes('cli/main.ts'), `source files found: ${files.length}`);
    assert.ok(edges.some((e) => e.from === 'turret/turret.ts' && e.to === 'common/exit-codes.ts'));
  });

  it(`no production file (${PRODUCTION.join(', ')}) imports from ${ABOVE_PRODUCTION.join('/, ')}/`, () => {
    const bad = edges
      .filter((e) => PRODUCTION.includes(topFolder(e.from)) && !TEST_FILE.test(e.from) && ABOVE_PRODUCTION.includes(topFolder(e.to)))
      .map((e) => `${e.from} imports '${e.specifier}'`);
    assert.deepEqual(bad, [], `production files import from above them:${list(bad)}`);
  });

  it('no file imports a test file', () => {
    const bad = edges.filter((e) => TEST_FILE.test(e.to)).map((e) => `${e.from} imports '${e.specifier}'`);
    assert.deepEqual(bad, [], `imports of test files (move the shared part to test/support/):${list(bad)}`);
  });

  it('no file outside test/ and bench/ is named like a test helper', () => {
    // The names this rule was written against, so a loosened pattern fails here first.
    for (const old of [
      'hq/test-support.ts',
      'hq/test-fixture.ts',
      'hq/prometheus-testing.ts',
      'hq/metrics-test-batches.ts',
      'hq/metrics-bench.ts',
      'turret/testing/scripts.ts',
    ]) {
      assert.match(old, HELPER_NAME);
    }
    for (const fine of ['cli/scaffold/test_scripts/v_user.ts', 'scripts/test.mjs', 'k8s-examples/values-first-test.yaml', 'hq/metrics-saturation.ts']) {
      assert.doesNotMatch(fine, HELPER_NAME);
    }
    const bad = repoFiles().filter((f) => !['test', 'bench'].includes(topFolder(f)) && !TEST_FILE.test(f) && HELPER_NAME.test(f));
    assert.deepEqual(bad, [], `test helpers outside test/ and bench/:${list(bad)}`);
  });
});

// Only store/ knows oct's tables: every other production file (and every report test) reaches the
// database through the store's functions. The tables are the ones store/ creates, so a new table is
// covered as soon as it exists; only string literals are read (comments are prose); and a literal
// counts as SQL when it names a table after FROM, JOIN, INTO, UPDATE, COPY, TABLE, ANALYZE or
// TRUNCATE, or quoted inside a statement (pg_relation_size('results')), and either starts with a
// statement or holds a clause (WHERE, GROUP BY, ORDER BY, RETURNING, VALUES, run_id, $1), in any case.
function readSource(file: string): string {
  try {
    return readFileSync(posix.join(REPO_ROOT, file), 'utf8');
  } catch {
    return ''; // listed by git but deleted in the work tree
  }
}
const storeFiles = files.filter((f) => topFolder(f) === 'store' && !TEST_FILE.test(f));
const TABLES = [...new Set(storeFiles.flatMap((f) => [...readSource(f).matchAll(/\bCREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)].map((m) => m[1]!)))];
const tableAlternatives = TABLES.join('|');
const TABLE_REF = new RegExp(
  `\\b(?:FROM|JOIN|INTO|UPDATE|COPY|TABLE|ANALYZE|TRUNCATE)\\s+(?:ONLY\\s+)?(?:"?public"?\\.)?"?(${tableAlternatives})\\b|'(${tableAlternatives})'`,
  'gi',
);
const STATEMENT_START = /^[\s(]*(?:SELECT|INSERT|UPDATE|DELETE|COPY|WITH|ALTER|CREATE|DROP|TRUNCATE|ANALYZE)\b/i;
const CLAUSE = /\b(?:WHERE|GROUP\s+BY|ORDER\s+BY|RETURNING|VALUES|run_id)\b|\$\d/i;

/** The tables a string literal names as SQL, or none. */
function tablesInSql(literal: string): string[] {
  if (!STATEMENT_START.test(literal) && !CLAUSE.test(literal)) return [];
  return [...literal.matchAll(TABLE_REF)].map((m) => (m[1] ?? m[2]!).toLowerCase());
}
const sqlIn = (source: string) => stringLiterals(source).flatMap(tablesInSql);

describe('SQL', () => {
  it('tells SQL from prose and reads every kind of literal', () => {
    const sql = [
      "q('SELECT count(*) FROM results WHERE run_id = $1')",
      `q(\`select *\n  from   turrets\n where run_id = \${id}\`)`,
      'q("INSERT INTO runs (name) VALUES ($1)")',
      "q('COPY results (run_id) FROM STDIN')",
      `q(\`WITH a AS (\${inner(\`x\`)}) SELECT * FROM a JOIN error_counts e ON true\`)`,
      "q(`SELECT pg_relation_size('results') AS bytes`)",
      'q(`UPDATE public.runs SET state = $1`)',
      'const x = a / b; q(\'SELECT * FROM "aggregates" ORDER BY second\')',
      'if (/["\\r\\n]/.test(s)) q(`ANALYZE turret_status_changes`)',
    ];
    assert.deepEqual(sql.map(sqlIn), [
      ['results'],
      ['turrets'],
      ['runs'],
      ['results'],
      ['error_counts'],
      ['results'],
      ['runs'],
      ['aggregates'],
      ['turret_status_changes'],
    ]);
    const prose = [
      '// SELECT count(*) FROM results WHERE run_id = $1',
      '/* INSERT INTO runs VALUES (1) */ const kind = "results";',
      "log.warn('results arrived after the run finished; not stored')",
      "log.info('read 5 results from turrets that left')",
      `throw new Error(\`no runs in \${location}: take results from runs of another HQ\`)`,
      "describe: 'Export a run\\'s results as CSV (the original\\'s columns, one per custom timer)'",
      'const odd = "it\'s\'); DROP TABLE results; --"',
      'const re = /SELECT .* FROM results WHERE/; // a regex is not a string',
    ];
    assert.deepEqual(
      prose.map(sqlIn),
      prose.map(() => []),
      'prose and comments are not SQL',
    );
  });

  it(`store/ holds SQL naming each of its tables (so the rule below is not passing on nothing)`, () => {
    assert.ok(TABLES.length >= 8 && ['results', 'runs', 'turrets', 'aggregates'].every((t) => TABLES.includes(t)), `tables: ${TABLES.join(', ')}`);
    const named = new Set(storeFiles.flatMap((f) => sqlIn(readSource(f))));
    assert.deepEqual(
      TABLES.filter((t) => !named.has(t)),
      [],
      'every table is queried somewhere in store/',
    );
  });

  it(`no file outside store/ (${PRODUCTION.filter((f) => f !== 'store').join(', ')}, cli) and no report test names oct's tables in SQL`, () => {
    const checked = files.filter(
      (f) =>
        (topFolder(f) !== 'store' && [...PRODUCTION, 'cli'].includes(topFolder(f)) && !TEST_FILE.test(f)) || (topFolder(f) === 'report' && TEST_FILE.test(f)),
    );
    assert.ok(checked.includes('report/stats.ts') && checked.includes('cli/commands/runs.ts') && checked.includes('report/stats.test.ts'));
    const bad = checked.flatMap((f) => [...new Set(sqlIn(readSource(f)))].map((t) => `${f} names ${t}`));
    assert.deepEqual(bad, [], `SQL outside store/ (move it behind the store, e.g. store/report-queries.ts):${list(bad)}`);
  });
});
