// Start-up: the compiled build of oct's sources is used only while they are unchanged, and `oct
// run` starts its turrets before the store has opened, so a store that cannot open must stop them.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort, oct, processCommandLines, runProgram } from '../support/processes.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'oct-startup-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function manifestDir(cache: string): string {
  const [base] = readdirSync(cache);
  return (JSON.parse(readFileSync(join(cache, base!, 'manifest.json'), 'utf8')) as { dir: string }).dir;
}

test('the compiled build is rebuilt when a source changes, and never serves the old code', async () => {
  // A copy of the package (sources, bin, package.json; node_modules linked), so its sources can change.
  const pkg = join(tmp, 'oct');
  for (const d of ['bin', 'cli', 'common', 'deploy', 'hq', 'protocol', 'report', 'store', 'turret', 'index.ts', 'package.json'])
    cpSync(join(ROOT, d), join(pkg, d), { recursive: true });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(pkg, 'node_modules'));
  const cache = join(tmp, 'cache');
  const env = { OCT_CACHE_DIR: cache, OCT_COMPILE_DEBUG: '1' };
  const help = () => runProgram(process.execPath, [join(pkg, 'bin', 'oct.js'), '--help'], { env, timeoutMs: 60_000 });

  const first = await help();
  assert.equal(first.code, 0, first.stderr);
  assert.doesNotMatch(first.stderr, /no compiled build/);
  assert.match(first.stdout, /Create a project folder/);
  const built = manifestDir(cache);
  const again = await help();
  assert.equal(manifestDir(cache), built, 'unchanged sources reuse the build');
  assert.equal(again.stdout, first.stdout);

  // A module the CLI loads lazily (not an entry point) changes: the next start runs the new text.
  const file = join(pkg, 'cli', 'commands', 'new-project.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace('Create a project folder', 'Create a CHANGED folder'));
  const changed = await help();
  assert.equal(changed.code, 0, changed.stderr);
  assert.match(changed.stdout, /Create a CHANGED folder/);
  assert.notEqual(manifestDir(cache), built, 'a new build');

  // And with the build turned off, the sources run through tsx: same output.
  const plain = await runProgram(process.execPath, [join(pkg, 'bin', 'oct.js'), '--help'], { env: { OCT_COMPILE: '0' }, timeoutMs: 60_000 });
  assert.equal(plain.stdout, changed.stdout);
});

test('a store that cannot open: exit 3, named, and the turrets started meanwhile are stopped', async () => {
  const dir = join(tmp, 'demo');
  const made = await oct(['new-project', dir]);
  assert.equal(made.code, 0, made.stderr);
  const results = join(tmp, 'results-refused');
  const port = await freePort();
  const r = await oct(
    [
      'run',
      dir,
      '--database-url',
      `postgres://oct@127.0.0.1:${port}/oct`,
      '--results-dir',
      results,
      '--no-progress',
      '--publish-port',
      '0',
      '--rc-port',
      '0',
      '--http-port',
      '0',
    ],
    {
      timeoutMs: 60_000,
    },
  );
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`cannot open the results database: .*127\\.0\\.0\\.1:${port}`));
  assert.ok(existsSync(join(results, 'turrets', 'navigation.json')), 'the turrets had been started');
  // None is left behind: oct run waited for them to exit.
  const left = processCommandLines().filter((l) => l.includes(results));
  assert.deepEqual(left, []);
});
