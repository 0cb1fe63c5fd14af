// oct's TypeScript compiled once into a few ES modules, cached on disk and used while its sources
// are unchanged. Loading the sources through tsx cost each process ~0.4 s of CPU at start-up (the
// loader thread's round trips for ~150 modules, then one more tsx in the store's worker); `oct run`
// starts three or more such processes at once on the machine's cores, before the first shot.
//
// Never stale: the manifest holds a hash of every source file that went into the build and of the
// package.json of every package it imports; a process checks them all (~10 ms) before using the
// build, and rebuilds (~0.3 s, with the esbuild that tsx ships) when one differs. Any failure
// (no esbuild, nowhere writable) falls back to loading the sources through tsx, as before.
// OCT_COMPILE=0 turns it off; OCT_CACHE_DIR says where builds go (default: the temp directory,
// which is writable in the containers too, where the root filesystem is read-only).
//
// The build keeps each module's own import.meta.url (the source file's), so relative paths to
// templates, the scaffold, bin/oct.js and the workers' boot files work as from the sources, and it
// imports packages by the absolute file URL they resolve to, so it works from any directory.
import { mkdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { commitManifest, currentManifest, loadEsbuild, nearestPackageJson, sha } from '../common/build-cache.mjs';
import { FILE_META_DEFINE, withFileMeta } from '../common/file-meta.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Every entry a process may load: the CLI, the store's worker, and what scripts import as 'oct'. */
const ENTRIES = ['cli/main.ts', 'store/pglite-worker.ts', 'index.ts', 'turret/http-client.ts'];
/**
 * Packages loaded as they are: native or WASM (files beside them), one instance shared with
 * users' scripts (undici: a script's own undici must be the turret's), loaders (tsx, esbuild).
 */
const EXTERNAL = new Set(['zeromq', '@electric-sql/pglite', 'undici', 'tsx', 'esbuild', 'pg', 'pg-copy-streams', '@kubernetes/client-node', 'playwright-core']);
const packageName = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

function cacheBase() {
  const dir = process.env.OCT_CACHE_DIR || join(tmpdir(), `oct-build-${process.getuid?.() ?? 'user'}`);
  // How oct is built is part of the key: a change to it makes a new build.
  const how = [import.meta.url, ...['file-meta', 'build-cache'].map((m) => new URL(`../common/${m}.mjs`, import.meta.url))].map((u) =>
    readFileSync(fileURLToPath(u), 'utf8'),
  );
  return join(dir, sha(`${ROOT}\0${process.version}\0${how.join('\0')}`).slice(0, 16));
}

/** The build described by `manifest.json` in `base`, if every file it was built from is unchanged. */
function currentBuild(base) {
  const manifest = currentManifest(base, 'dir');
  return manifest ? { dir: join(base, manifest.dir), entries: manifest.entries } : null;
}

async function build(base) {
  const esbuild = loadEsbuild();
  const name = `build-${Date.now().toString(36)}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const outdir = join(base, name);
  const files = {};
  const keep = {
    name: 'oct-keep-locations',
    setup(b) {
      // Pure-JS packages go into the bundle (Node resolving and compiling yargs', zod's, ws'…
      // hundreds of files was most of a turret's start-up); the rest stay outside, imported by
      // the absolute URL Node would resolve.
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'inner' || isBuiltin(args.path)) return undefined;
        const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' });
        // Optional peers a package require()s inside a try (ws' bufferutil): left to fail at run time as they would.
        if (r.errors.length) return { path: args.path, external: true };
        const pkg = nearestPackageJson(r.path);
        if (pkg) files[pkg] = sha(readFileSync(pkg));
        if (!EXTERNAL.has(packageName(args.path))) return { path: r.path };
        return { path: pathToFileURL(r.path).href, external: true };
      });
      // Every module keeps its own import.meta (FILE_META_DEFINE below applies to all of them);
      // oct's own sources are hashed, the bundled packages are known by their package.json.
      b.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        const ts = /\.[cm]?ts$/.test(args.path);
        if (ts) files[args.path] = sha(text);
        return { contents: withFileMeta(text, args.path), loader: ts ? 'ts' : 'js' };
      });
    },
  };
  const entries = Object.fromEntries(ENTRIES.map((e) => [e, pathToFileURL(join(outdir, e.replace(/\.ts$/, '.mjs'))).href]));
  await esbuild.build({
    entryPoints: ENTRIES.map((e) => join(ROOT, e)),
    outbase: ROOT,
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Node's conditions only (esbuild adds "module" by default, which Node does not know).
    conditions: [],
    outExtension: { '.js': '.mjs' },
    sourcemap: 'linked',
    // As tsx compiles: turret/canon.ts relies on named closures keeping their names.
    keepNames: true,
    // Bundled CommonJS packages call require() (builtins, JSON files); ES modules have none.
    banner: { js: "import { createRequire as __octCreateRequire } from 'node:module'; const require = __octCreateRequire(import.meta.url);" },
    define: { OCT_COMPILED_ENTRIES: JSON.stringify(entries), ...FILE_META_DEFINE },
    plugins: [keep],
    logLevel: 'silent',
  });
  commitManifest(base, { dir: name, entries, files }, 'build-', name);
  return { dir: outdir, entries };
}

/**
 * The compiled build of oct's sources (built now when missing or out of date), or null to load
 * the sources through tsx. `mayBuild: false` only checks (the store's worker: its parent just built).
 */
export async function compiledBuild({ mayBuild = true } = {}) {
  if (process.env.OCT_COMPILE === '0') return null;
  try {
    const base = cacheBase();
    const found = currentBuild(base);
    if (found || !mayBuild) return found;
    mkdirSync(base, { recursive: true });
    return await build(base);
  } catch (err) {
    if (process.env.OCT_COMPILE_DEBUG) process.stderr.write(`oct: no compiled build, loading the sources through tsx: ${err?.stack ?? err}\n`);
    return null;
  }
}

/** The file URL of a source's compiled module in `build` ('cli/main.ts' → …/cli/main.mjs). */
export function entryUrl(build, source) {
  const url = build.entries[relative(ROOT, resolve(ROOT, source))];
  if (!url) throw new Error(`not an entry of the compiled build: ${source}`);
  return url;
}
