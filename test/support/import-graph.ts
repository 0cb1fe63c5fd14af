// The repository's import edges, read from source text rather than from TypeScript, so the
// architecture test stays fast and needs no compiler: static `import … from`, `export … from`,
// side-effect `import '…'` and dynamic `import('…')`. Only relative specifiers become edges; bare
// ones ('zod', 'node:fs', 'oct') name packages, not folders of this repository.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';

export const REPO_ROOT = posix.join(import.meta.dirname, '..', '..');

const SPECIFIERS = [
  // `[^;'"]*?` spans the braces of a multi-line import list without running into the next statement.
  /(?:^|[\s;])(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[\s;])import\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Every module specifier in a source text, in order of appearance per form. */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const re of SPECIFIERS) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

export interface ImportEdge {
  /** Importing file, relative to the repository root. */
  from: string;
  /** The specifier as written. */
  specifier: string;
  /** The imported file, relative to the repository root. */
  to: string;
}

/** Files as the test runner sees them: tracked plus untracked-but-not-ignored. */
export function repoFiles(patterns: string[] = [], root = REPO_ROOT): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '--', ...patterns], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f && !f.startsWith('node_modules/'));
}

export const sourceFiles = (root = REPO_ROOT) => repoFiles(['*.ts', '*.mjs', '*.js'], root);

export function importEdges(files: string[], root = REPO_ROOT): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const from of files) {
    let text: string;
    try {
      text = readFileSync(posix.join(root, from), 'utf8');
    } catch {
      continue; // listed by git but deleted in the work tree
    }
    for (const specifier of importSpecifiers(text)) {
      if (!specifier.startsWith('.')) continue;
      edges.push({ from, specifier, to: posix.normalize(posix.join(posix.dirname(from), specifier)) });
    }
  }
  return edges;
}
