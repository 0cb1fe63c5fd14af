// A cache directory of builds that are never stale: its manifest.json names the build and holds a
// hash of every file that went into it; a build is used only while every one of them is unchanged.
// Shared by oct's own compiled build (bin/compiled.mjs) and users' script bundles
// (turret/script-bundle.ts). Plain JS: bin/compiled.mjs runs it before any of oct is built.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const OLD_BUILD_MS = 24 * 3600 * 1000;

export const sha = (data) => createHash('sha256').update(data).digest('hex');

/** The manifest in `base` if every file it hashes is unchanged and its build (`manifest[key]`) is there. */
export function currentManifest(base, key) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
  for (const [file, hash] of Object.entries(manifest.files ?? {})) {
    let text;
    try {
      text = readFileSync(file);
    } catch {
      return null;
    }
    if (sha(text) !== hash) return null;
  }
  return typeof manifest[key] === 'string' && existsSync(join(base, manifest[key])) ? manifest : null;
}

/**
 * Makes `manifest` current (renamed in, so a process starting beside never reads half of it), and
 * removes builds named `prefix…` other than `keep` older than a day (a process started earlier
 * may still load from one).
 */
export function commitManifest(base, manifest, prefix, keep) {
  const tmp = join(base, `manifest.json.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(manifest));
  renameSync(tmp, join(base, 'manifest.json'));
  for (const n of readdirSync(base)) {
    if (!n.startsWith(prefix) || n === keep) continue;
    const p = join(base, n);
    try {
      if (Date.now() - statSync(p).mtimeMs > OLD_BUILD_MS) rmSync(p, { recursive: true, force: true });
    } catch {}
  }
}

/** The package.json of the package `file` belongs to. */
export function nearestPackageJson(file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) return pkg;
  }
  return null;
}

/** esbuild, from tsx (a dependency of oct), wherever npm put it. */
export function loadEsbuild() {
  const fromTsx = createRequire(createRequire(fileURLToPath(import.meta.url)).resolve('tsx'));
  return fromTsx(fromTsx.resolve('esbuild'));
}
