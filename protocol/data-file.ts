// The project's test data (`data` in config.json): a CSV file with a header row, or JSON lines
// (one JSON value per line, `.jsonl`/`.ndjson`). Parsed once, before the run, into rows; the HQ
// hands each canon its own (hq/data-split.ts). Every problem names the file and the line.
import { ConfigError } from './config.ts';

export type DataPolicy = 'unique' | 'round-robin' | 'random';
export const DATA_POLICIES: readonly DataPolicy[] = ['unique', 'round-robin', 'random'];
/** The largest data file: each turret's share travels in one order, and every turret receives every order. */
export const MAX_DATA_FILE_BYTES = 8 * 1024 * 1024;

export interface DataSet {
  /** As configured, for messages. */
  file: string;
  policy: DataPolicy;
  /** A CSV row is an object of strings by header; a JSON line is its value. */
  rows: unknown[];
}

const isJsonLines = (file: string) => /\.(jsonl|ndjson)$/i.test(file);

/** RFC 4180 fields: quoted fields may hold commas, quotes (doubled) and line breaks. */
function csvRecords(text: string, file: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    fields.push(field);
    // A blank line is no record (a trailing newline, a gap).
    if (!(fields.length === 1 && fields[0] === '')) out.push({ line: start, fields });
    fields = [];
    field = '';
  };
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += ch;
  }
  if (quoted) throw new ConfigError(file, [`line ${start}: a quoted field is never closed`]);
  if (field !== '' || fields.length) endRecord();
  return out;
}

/** Rows of a data file's text; `file` names it in errors and picks the format by extension. */
export function parseDataText(text: string, file: string): unknown[] {
  if (isJsonLines(file)) {
    const rows: unknown[] = [];
    text.split('\n').forEach((raw, k) => {
      const line = raw.trim();
      if (line === '') return;
      try {
        rows.push(JSON.parse(line));
      } catch (err) {
        throw new ConfigError(file, [`line ${k + 1}: not valid JSON: ${(err as Error).message}`]);
      }
    });
    if (!rows.length) throw new ConfigError(file, ['the data file is empty: no JSON lines']);
    return rows;
  }
  const records = csvRecords(text, file);
  if (!records.length) throw new ConfigError(file, ['the data file is empty: it needs a header row and at least one row']);
  const [head, ...body] = records;
  const header = head!.fields.map((h) => h.trim());
  if (header.some((h) => h === '')) throw new ConfigError(file, [`line ${head!.line}: the header has an empty column name`]);
  const dup = header.find((h, k) => header.indexOf(h) !== k);
  if (dup) throw new ConfigError(file, [`line ${head!.line}: the header names "${dup}" twice`]);
  if (!body.length) throw new ConfigError(file, [`the data file has a header (${header.join(', ')}) and no rows`]);
  const ragged = body.filter((r) => r.fields.length !== header.length);
  if (ragged.length)
    throw new ConfigError(
      file,
      ragged
        .slice(0, 5)
        .map((r) => `line ${r.line}: ${r.fields.length} fields, the header has ${header.length} (${header.join(', ')})`)
        .concat(ragged.length > 5 ? [`… and ${ragged.length - 5} more ragged rows`] : []),
    );
  return body.map((r) => Object.fromEntries(header.map((h, k) => [h, r.fields[k]!])));
}

/** Under `unique`, every canon of the run needs its own row: refuse a run that cannot have that. */
export function checkRowsSuffice(data: DataSet, canons: number, source: string): void {
  if (data.policy === 'unique' && canons > data.rows.length)
    throw new ConfigError(source, [
      `data: ${data.file} has ${data.rows.length} rows, and the "unique" policy gives each of the ${canons} canons its own: add rows, run fewer canons, or use "policy": "round-robin"`,
    ]);
}
