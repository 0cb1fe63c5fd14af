// The import graph's rules. The production folders are what `oct` runs and what the images ship;
// an import from them into cli/ makes a lower layer depend on the command line, and one into test/
// or bench/ ships test code to users. Test files share code through test/support/, never by
// importing each other, so running one test file never runs another's tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importEdges, importSpecifiers, repoFiles, sourceFiles } from './support/import-graph.ts';

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
