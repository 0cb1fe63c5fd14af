// A script bundled by esbuild behaves as Node (or tsx) would load it: its own files inside, with
// their own import.meta.url; packages from the script's folder; 'oct' the turret's own module;
// CommonJS files left to Node; rebuilt when any of them changes; compile errors named.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { ScriptCompileError, bundledScript, isEsModuleScript } from './script-bundle.ts';
import { scriptDir } from '../test/support/turret-scripts.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'oct-bundle-cache-'));
const packages = { oct: new URL('../index.ts', import.meta.url).href };
const dirs: { remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
  rmSync(cacheDir, { recursive: true, force: true });
});

function project() {
  const d = scriptDir();
  dirs.push(d);
  d.write(
    'node_modules/greeter/package.json',
    JSON.stringify({ name: 'greeter', version: '1.0.0', type: 'module', exports: { '.': { import: './esm.js', require: './cjs.cjs' } } }),
  );
  d.write('node_modules/greeter/esm.js', 'export const greet = (n) => `hello ${n} (esm)`;\n');
  d.write('node_modules/greeter/cjs.cjs', 'exports.greet = (n) => `hello ${n} (cjs)`;\n');
  d.write(
    'lib/where.ts',
    "export const where: string = import.meta.url;\nexport const factor = 2;\nexport const dir = import.meta.dirname, spelt = 'import.meta.url';\n",
  );
  d.write('lib/legacy.cjs', "const { join } = require('node:path');\nexports.dir = join(__dirname, 'x');\n");
  d.write('data/users.json', '{"first": "ada"}\n');
  const main = d.write(
    'v_user.ts',
    `import { BaseTransaction } from 'oct';
import { greet } from 'greeter';
import { where, factor, dir, spelt } from './lib/where.ts';
import legacy from './lib/legacy.cjs';
import users from './data/users.json';
export const facts = { greeting: greet(users.first), where, dir, spelt, mine: import.meta.filename, factor, legacyDir: legacy.dir, base: typeof BaseTransaction };
export function fail(): never { throw new Error('from the script'); }
export class Transaction extends BaseTransaction { async run() {} }
`,
  );
  return { d, main };
}

test("a bundled script: its files with their own import.meta.url, packages from its folder, .cjs and JSON, the turret's oct", async () => {
  const { d, main } = project();
  const url = await bundledScript(main, { packages, cacheDir });
  assert.ok(url.startsWith(pathToFileURL(cacheDir).href), url);
  const mod = (await import(url)) as { facts: Record<string, unknown>; fail(): never };
  assert.deepEqual(mod.facts, {
    greeting: 'hello ada (esm)',
    where: pathToFileURL(join(d.dir, 'lib/where.ts')).href,
    dir: join(d.dir, 'lib'),
    // Only the expressions are the file's: a string that spells one stays as written.
    spelt: 'import.meta.url',
    mine: main,
    factor: 2,
    legacyDir: join(d.dir, 'lib', 'x'),
    base: 'function',
  });
  // Stack traces name the script's own file (inline source map).
  process.setSourceMapsEnabled(true);
  assert.throws(
    () => mod.fail(),
    (err: Error) => err.stack!.includes(`${main}:7`),
  );
});

test('the bundle is reused while its files are unchanged and rebuilt when any changes', async () => {
  const { d, main } = project();
  const first = await bundledScript(main, { packages, cacheDir });
  assert.equal(await bundledScript(main, { packages, cacheDir }), first, 'cached');
  d.write('lib/where.ts', 'export const where = "moved", dir = "", spelt = "";\nexport const factor = 3;\n');
  const second = await bundledScript(main, { packages, cacheDir });
  assert.notEqual(second, first);
  assert.equal(((await import(second)) as { facts: { factor: number } }).facts.factor, 3);
  d.write('data/users.json', '{"first": "grace"}\n');
  const third = await bundledScript(main, { packages, cacheDir });
  assert.notEqual(third, second, 'a JSON file it imports is an input too');
  assert.equal(((await import(third)) as { facts: { greeting: string } }).facts.greeting, 'hello grace (esm)');
  // A package upgraded in place: its package.json changed.
  d.write('node_modules/greeter/package.json', JSON.stringify({ name: 'greeter', version: '1.0.1', type: 'module', exports: { '.': { import: './esm.js' } } }));
  assert.notEqual(await bundledScript(main, { packages, cacheDir }), third);
});

test('a script that does not compile, or imports what is not there: ScriptCompileError naming the file and line', async () => {
  const d = scriptDir();
  dirs.push(d);
  const broken = d.write('broken.ts', 'export class Transaction {\n  run( {\n');
  await assert.rejects(
    bundledScript(broken, { packages, cacheDir }),
    (err: Error) => err instanceof ScriptCompileError && /broken\.ts:3:\d+: /.test(err.message),
  );
  const missing = d.write('missing.ts', "import { x } from 'not-installed';\nexport class Transaction { run() { return x; } }\n");
  await assert.rejects(
    bundledScript(missing, { packages, cacheDir }),
    (err: Error) => err instanceof ScriptCompileError && /missing\.ts:1:\d+: Could not resolve "not-installed"/.test(err.message),
  );
  const helperGone = d.write('gone.ts', "import { y } from './nowhere.ts';\nexport class Transaction { run() { return y; } }\n");
  await assert.rejects(bundledScript(helperGone, { packages, cacheDir }), /gone\.ts:1:\d+: Could not resolve "\.\/nowhere\.ts"/);
});

test('which scripts are ES modules, as Node decides', () => {
  const esm = scriptDir();
  const cjs = scriptDir({ esm: false });
  dirs.push(esm, cjs);
  assert.equal(isEsModuleScript(esm.write('a.ts', '')), true);
  assert.equal(isEsModuleScript(esm.write('sub/b.js', '')), true);
  assert.equal(isEsModuleScript(esm.write('c.cts', '')), false);
  assert.equal(isEsModuleScript(cjs.write('d.mts', '')), true);
  writeFileSync(join(cjs.dir, 'package.json'), '{}');
  assert.equal(isEsModuleScript(cjs.write('e.ts', '')), false);
  writeFileSync(join(cjs.dir, 'package.json'), '{ not json');
  assert.equal(isEsModuleScript(cjs.write('f.ts', '')), false);
});
