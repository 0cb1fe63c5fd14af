// The string literals of a JS/TS source text, read by a small lexer rather than by TypeScript, so
// the architecture test stays fast: a rule about what strings say (SQL naming oct's tables) must
// not see comments, whose prose may say anything. Quotes, template literals (with `${…}` nesting;
// an expression stands as one space in its template's text, and its own literals come out on
// their own) and regular expression literals (told from a division by what comes before the
// slash, as JS parsers do) are understood; escapes are decoded for the common cases.

// After these, a slash starts a regular expression; after a name, a number or `)`, it divides.
const REGEX_AFTER_PUNCTUATION = new Set([...'(,=:[!&|?{};+-*%<>~^}']);
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await', 'instanceof']);
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', '0': '\0' };

export function stringLiterals(source: string): string[] {
  const found: string[] = [];
  let i = 0;
  const unescapeNext = () => {
    const c = source[i + 1] ?? '';
    i += 2;
    return c === '\n' ? '' : (ESCAPES[c] ?? c);
  };
  const quoted = (quote: string) => {
    let text = '';
    i++;
    while (i < source.length && source[i] !== quote && source[i] !== '\n') {
      if (source[i] === '\\') text += unescapeNext();
      else text += source[i++];
    }
    i++;
    found.push(text);
  };
  const regex = () => {
    i++;
    let inClass = false;
    while (i < source.length && source[i] !== '\n') {
      const c = source[i]!;
      if (c === '\\') i += 2;
      else {
        i++;
        if (c === '[') inClass = true;
        else if (c === ']') inClass = false;
        else if (c === '/' && !inClass) break;
      }
    }
    while (i < source.length && /[a-z]/i.test(source[i]!)) i++;
  };
  // Code up to the end of the text, or (inTemplate) up to the `}` that closes a `${`.
  const code = (inTemplate: boolean) => {
    let depth = 0;
    let last = ''; // the last token's last character, or the last word
    while (i < source.length) {
      const c = source[i]!;
      const next = source[i + 1];
      if (c === '/' && next === '/') {
        while (i < source.length && source[i] !== '\n') i++;
      } else if (c === '/' && next === '*') {
        const end = source.indexOf('*/', i + 2);
        i = end < 0 ? source.length : end + 2;
      } else if (c === "'" || c === '"') {
        quoted(c);
        last = 'a';
      } else if (c === '`') {
        template();
        last = 'a';
      } else if (c === '/') {
        if (last === '' || REGEX_AFTER_PUNCTUATION.has(last) || REGEX_AFTER_WORD.has(last)) {
          regex();
          last = 'a';
        } else {
          i++;
          last = '/';
        }
      } else if (/[\w$]/.test(c)) {
        const start = i;
        while (i < source.length && /[\w$]/.test(source[i]!)) i++;
        last = source.slice(start, i);
      } else {
        i++;
        if (/\s/.test(c)) continue;
        if (c === '{') depth++;
        else if (c === '}') {
          if (inTemplate && depth === 0) return;
          depth--;
        }
        last = c;
      }
    }
  };
  const template = () => {
    let text = '';
    i++;
    while (i < source.length && source[i] !== '`') {
      if (source[i] === '\\') text += unescapeNext();
      else if (source[i] === '$' && source[i + 1] === '{') {
        i += 2;
        code(true);
        text += ' ';
      } else text += source[i++];
    }
    i++;
    found.push(text);
  };
  code(false);
  return found;
}
