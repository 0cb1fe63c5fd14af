// A user's ES-module script compiled once with esbuild into one cached module, which the turret
// loads with a plain import(). Loading it through tsx registered loader hooks: Node 20 runs them
// on a thread of their own, booted per process, and every module resolved or loaded is a
// synchronous round trip to it; that cost each turret ~0.6 s of its start-up on a 2-core machine
// (bench/startup.ts), while the HQ's store and the other turrets were starting on the same cores.
//
// The bundle holds the script and the files it imports by relative path; packages stay outside,
// imported by the absolute URL esbuild resolves for them from the script's folder (as Node would,
// with Node's conditions), and 'oct' / 'oct/http' are the modules the turret itself runs. Each
// file keeps its own import.meta.url (common/file-meta.mjs), so paths relative to a script resolve as before. Never
// stale: the manifest holds a hash of every file that went in and of the package.json of every
// package it imports, checked before each use. A .cjs file it imports stays outside, loaded by Node. tsx reads the same tsconfig.json (it is esbuild).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { commitManifest, currentManifest, loadEsbuild, nearestPackageJson, sha } from '../common/build-cache.mjs';
import { FILE_META_DEFINE, withFileMeta } from '../common/file-meta.mjs';

/** Changes when the way scripts are bundled changes: old bundles are then never used. */
const BUNDLE_FORMAT = 2;

/** esbuild's diagnostics for a script that does not compile or whose imports do not resolve. */
export class ScriptCompileError extends Error {}

/** Where bundles go: beside oct's own compiled build (bin/compiled.mjs), in the temp directory by default. */
export function scriptCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.OCT_CACHE_DIR || join(tmpdir(), `oct-build-${process.getuid?.() ?? 'user'}`), 'scripts');
}

/**
 * Whether Node would load this script as an ES module: .mts/.mjs, or .ts/.js in a package whose
 * package.json says "type": "module". CommonJS scripts (require, __dirname) keep tsx.
 */
export function isEsModuleScript(file: string): boolean {
  if (/\.m[jt]s$/.test(file)) return true;
  if (!/\.[jt]sx?$/.test(file)) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'module';
      } catch {
        return false;
      }
    }
    if (dir === dirname(dir)) return false;
  }
}

interface Manifest {
  bundle: string;
  files: Record<string, string>;
}

/** The file URL of `file`'s bundle, built now when missing or when a file that went into it changed. */
export async function bundledScript(file: string, opts: { packages: Record<string, string>; cacheDir: string }): Promise<string> {
  const base = join(opts.cacheDir, sha(JSON.stringify([BUNDLE_FORMAT, file, opts.packages, process.version])).slice(0, 16));
  return currentBundle(base) ?? (await build(file, base, opts.packages));
}

function currentBundle(base: string): string | null {
  const manifest = currentManifest<Manifest>(base, 'bundle');
  return manifest ? pathToFileURL(join(base, manifest.bundle)).href : null;
}

const LOADERS: Record<string, 'ts' | 'tsx' | 'js' | 'jsx'> = { ts: 'ts', mts: 'ts', cts: 'ts', tsx: 'tsx', js: 'js', mjs: 'js', cjs: 'js', jsx: 'jsx' };

async function build(entry: string, base: string, packages: Record<string, string>): Promise<string> {
  const esbuild = loadEsbuild();
  const files: Record<string, string> = {};
  const plugin: import('esbuild').Plugin = {
    name: 'oct-script',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        const own = packages[args.path];
        if (own) return { path: own, external: true };
        if (args.pluginData === 'inner' || isBuiltin(args.path)) return undefined;
        const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' });
        if (r.errors.length) return { errors: r.errors };
        const pkg = nearestPackageJson(r.path);
        if (pkg) files[pkg] = sha(readFileSync(pkg));
        return { path: pathToFileURL(r.path).href, external: true };
      });
      // A CommonJS file the script imports is left to Node, which gives it require() and __dirname.
      b.onResolve({ filter: /^\.{1,2}\/.*\.cjs$/ }, (args) => {
        const path = join(args.resolveDir, args.path);
        files[path] = sha(readFileSync(path));
        return { path: pathToFileURL(path).href, external: true };
      });
      b.onLoad({ filter: /\.json$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        files[args.path] = sha(text);
        return { contents: text, loader: 'json' };
      });
      b.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        files[args.path] = sha(text);
        return { contents: withFileMeta(text, args.path), loader: LOADERS[args.path.split('.').pop()!] ?? 'js' };
      });
    },
  };
  let result: import('esbuild').BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile: join(base, 'script.mjs'),
      write: false,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      // Node's conditions only (esbuild adds "module" by default, which Node does not know).
      conditions: [],
      sourcemap: 'inline',
      sourcesContent: false,
      // As tsx compiles: a class's or function's name stays what the script wrote.
      keepNames: true,
      define: FILE_META_DEFINE,
      plugins: [plugin],
      logLevel: 'silent',
    });
  } catch (err) {
    const errors = (err as { errors?: import('esbuild').Message[] }).errors;
    if (!errors?.length) throw err;
    throw new ScriptCompileError(errors.map(describe).join('; '));
  }
  mkdirSync(base, { recursive: true });
  const name = `script-${Date.now().toString(36)}-${process.pid}.mjs`;
  writeFileSync(join(base, name), result.outputFiles[0]!.contents);
  commitManifest(base, { bundle: name, files } satisfies Manifest, 'script-', name);
  return pathToFileURL(join(base, name)).href;
}

function describe(m: import('esbuild').Message): string {
  const at = m.location ? `${relative(process.cwd(), m.location.file) || m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
  return `${at}${m.text}`;
}
