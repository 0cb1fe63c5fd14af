// Loads a user's transaction script (TypeScript or JavaScript), no build step, and finds its
// Transaction class: an ES-module script as one cached esbuild bundle (script-bundle.ts) when oct
// runs from its compiled build, else (CommonJS scripts, oct from its sources) through tsx. Every
// failure becomes a ScriptLoadError naming the file and the cause, which the turret reports in its
// "aborted" status.
import { existsSync, statSync } from 'node:fs';
import Module, { register } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ScriptCompileError, bundledScript, isEsModuleScript, scriptCacheDir } from './script-bundle.ts';
import type { TransactionClass } from './script-api.ts';

export class ScriptLoadError extends Error {
  constructor(
    readonly file: string,
    readonly cause_: string,
  ) {
    super(`${file}: ${cause_}`);
    this.name = 'ScriptLoadError';
  }
}

// Set by the compiled build (bin/compiled.mjs) to its modules' URLs: a script's 'oct' is then the
// same module instances the turret runs, not a second copy compiled from the sources.
declare const OCT_COMPILED_ENTRIES: Record<string, string> | undefined;
const compiled = typeof OCT_COMPILED_ENTRIES === 'undefined' ? null : OCT_COMPILED_ENTRIES;
const packageTargets = {
  oct: compiled?.['index.ts'] ?? new URL('../index.ts', import.meta.url).href,
  'oct/http': compiled?.['turret/http-client.ts'] ?? new URL('./http-client.ts', import.meta.url).href,
};

// Loader hooks are process-wide by nature (Node has no per-import hooks); registering twice would
// only stack a duplicate, so remember it once per process.
let hookRegistered = false;
export async function registerOctResolution(): Promise<void> {
  if (hookRegistered) return;
  hookRegistered = true;
  register(new URL('./resolve-hook.mjs', import.meta.url), { data: { targets: packageTargets } });
  // A .ts script in a folder without "type": "module" is loaded as CommonJS, and Node 20 sends its
  // require() calls past the ESM hooks. Compiling our sources a second time as CommonJS would load
  // a second undici (which breaks), so require('oct') gets the already-loaded ESM modules instead.
  const cjs = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    _cache: Record<string, unknown>;
  };
  const files: Record<string, string> = {};
  for (const [name, url] of Object.entries(packageTargets)) {
    // tsx appends "?namespace=…" to resolved CommonJS paths except .json ones, which would miss the cache.
    const key = `${fileURLToPath(url)}.oct-cjs.json`;
    const exports = await import(url);
    cjs._cache[key] = { id: key, filename: key, loaded: true, exports, children: [], paths: [] };
    files[name] = key;
  }
  const original = cjs._resolveFilename;
  cjs._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
    return files[request] ?? original.call(this, request, ...rest);
  };
}

async function importScript(file: string): Promise<Record<string, unknown>> {
  if (compiled && isEsModuleScript(file)) {
    let url: string | null = null;
    try {
      url = await bundledScript(file, { packages: packageTargets, cacheDir: scriptCacheDir() });
    } catch (err) {
      if (err instanceof ScriptCompileError) throw err;
      // Nowhere writable for the bundle, or no esbuild: tsx loads it as before.
    }
    if (url) {
      // As tsx does: stack traces name the script's own files and lines.
      process.setSourceMapsEnabled(true);
      return (await import(url)) as Record<string, unknown>;
    }
  }
  await registerOctResolution();
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(pathToFileURL(file).href, { parentURL: import.meta.url })) as Record<string, unknown>;
}

function isClassWithRun(v: unknown): v is TransactionClass {
  return typeof v === 'function' && typeof (v as { prototype?: { run?: unknown } }).prototype?.run === 'function';
}

/** Finds the Transaction class among a module's exports: named `Transaction`, or the default. */
export function findTransactionClass(mod: Record<string, unknown>): TransactionClass | null {
  const candidates = [mod.Transaction, mod.default, (mod.default as Record<string, unknown> | undefined)?.Transaction];
  for (const c of candidates) if (isClassWithRun(c)) return c;
  return null;
}

export async function loadTransactionClass(scriptPath: string): Promise<TransactionClass> {
  const file = resolvePath(scriptPath);
  if (!existsSync(file) || !statSync(file).isFile()) throw new ScriptLoadError(file, 'script file not found');
  let mod: Record<string, unknown>;
  try {
    mod = await importScript(file);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new ScriptLoadError(file, `failed to load: ${msg || (err as Error)?.name || 'unknown error'}`);
  }
  const cls = findTransactionClass(mod);
  if (!cls) {
    const names = Object.keys(mod).join(', ') || 'none';
    throw new ScriptLoadError(file, `no Transaction class exported (export a class with a run() method as "Transaction" or default; exports found: ${names})`);
  }
  return cls;
}
