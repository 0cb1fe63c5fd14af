// What a bundled file reads as import.meta.url, .filename and .dirname: its own source's, as when
// Node loads it, so paths relative to it (templates, a script's data files) resolve as before.
// esbuild's `define` swaps only the expressions (never a string or comment that spells them) for
// names that each file declares for itself; the bundler keeps one binding per file.
// Plain JS: bin/compiled.mjs runs it before any of oct is built.
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';

export const FILE_META_DEFINE = {
  'import.meta.url': '__octFileUrl',
  'import.meta.filename': '__octFileName',
  'import.meta.dirname': '__octFileDir',
};

/** The file's text with its own values declared first (on its first line: later lines keep their numbers). */
export function withFileMeta(text, path) {
  // Left as it is when it has no such expression: a CommonJS file's "use strict" stays its first statement.
  if (!text.includes('import.meta')) return text;
  const decl = `var __octFileUrl = ${JSON.stringify(pathToFileURL(path).href)}, __octFileName = ${JSON.stringify(path)}, __octFileDir = ${JSON.stringify(dirname(path))};`;
  // A hashbang must stay first: the declaration goes at the start of the next line.
  if (!text.startsWith('#!')) return decl + text;
  const eol = text.indexOf('\n');
  return eol < 0 ? text : `${text.slice(0, eol + 1)}${decl}${text.slice(eol + 1)}`;
}
