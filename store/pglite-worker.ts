// Runs PGlite (WASM, busy on whatever thread calls it) in a worker thread, so the HQ's socket loop
// only ever pays for message passing. Requests are answered in order of arrival; PGlite itself
// runs one statement at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { seedFromTemplate } from './pglite-template.ts';
import { deferWasmTierUp } from './wasm-tier-up.ts';
import { resultsCopyText, countRows, RESULTS_COPY_SQL } from './copy-text.ts';
import type { PgliteEvent, PgliteRequest, PgliteResponse, PgliteWorkerData, WireError } from './pglite-protocol.ts';

const port = parentPort!;
const { dataDir, templateDir } = workerData as PgliteWorkerData;

function wire(err: unknown): WireError {
  const e = err as { message?: string; code?: string; detail?: string; hint?: string };
  return { message: e.message ?? String(err), code: e.code, detail: e.detail, hint: e.hint };
}

// Same type mapping as the pg driver: int8 and numeric as JS numbers.
const toNumber = (v: string) => Number(v);

// Whenever this thread's event loop has nothing alive, Node waits for every pending V8 background
// task before going on (NodePlatform::DrainTasks), and while PGlite opens those are optimising
// compiles of large WASM functions: each wait was ~0.1 s (seen with perf: the thread parked on a
// futex while a worker thread ran TurboFan), and one fell between 'ready' and the first query.
// Until the port is listened to, a timer keeps the loop alive.
function keepLoopAlive(): () => void {
  const timer = setInterval(() => {}, 60_000);
  return () => clearInterval(timer);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const release = keepLoopAlive();
  let db: PGlite;
  let fromTemplate: 'spare' | 'copy' | false = false;
  try {
    if (templateDir) fromTemplate = seedFromTemplate(dataDir, templateDir);
    deferWasmTierUp(true);
    try {
      db = await PGlite.create({ dataDir, parsers: { 20: toNumber, 1700: toNumber } });
      await db.waitReady;
    } finally {
      deferWasmTierUp(false);
    }
  } catch (err) {
    release();
    port.postMessage({ kind: 'fatal', error: wire(err) } satisfies PgliteEvent);
    return;
  }
  port.postMessage({ kind: 'ready', startupMs: Math.round(performance.now() - t0), fromTemplate } satisfies PgliteEvent);

  const copy = async (sql: string, text: string | string[]) => {
    // PGlite has no COPY wire sub-protocol; it reads the payload from a virtual /dev/blob file.
    const blobSql = sql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'");
    await db.query(blobSql, [], { blob: new Blob(Array.isArray(text) ? text : [text]) });
  };
  // The text of each open results COPY, slice by slice: the HQ thread sends a slice at a time
  // (posting one is cheap, cloning 100k rows at once was not), and the COPY runs once, at the end.
  const openCopies = new Map<number, { pieces: string[]; rows: number }>();

  const handle = async (req: PgliteRequest): Promise<PgliteResponse> => {
    switch (req.op) {
      case 'query': {
        // Without parameters the text may hold several statements (migrations): exec runs them all.
        if (!req.params?.length) {
          const results = await db.exec(req.sql);
          return { id: req.id, ok: true, rows: results[results.length - 1]?.rows ?? [] };
        }
        return { id: req.id, ok: true, rows: (await db.query(req.sql, req.params)).rows };
      }
      case 'copy':
        await copy(req.sql, req.text);
        return { id: req.id, ok: true };
      case 'writeResults': {
        const count = countRows(req.batches);
        if (count) await copy(RESULTS_COPY_SQL, resultsCopyText(req.runId, req.batches));
        return { id: req.id, ok: true, count };
      }
      case 'resultsCopyWrite': {
        const open = openCopies.get(req.copyId) ?? { pieces: [], rows: 0 };
        open.pieces.push(resultsCopyText(req.runId, req.batches));
        open.rows += countRows(req.batches);
        openCopies.set(req.copyId, open);
        return { id: req.id, ok: true };
      }
      case 'resultsCopyEnd': {
        const open = openCopies.get(req.copyId);
        openCopies.delete(req.copyId);
        if (!req.then) {
          if (open?.rows) await copy(RESULTS_COPY_SQL, open.pieces);
          return { id: req.id, ok: true, count: open?.rows ?? 0 };
        }
        // The record of the messages these rows came in commits with them, or neither does.
        await db.exec('BEGIN');
        try {
          if (open?.rows) await copy(RESULTS_COPY_SQL, open.pieces);
          await db.query(req.then.sql, req.then.params);
          await db.exec('COMMIT');
        } catch (err) {
          await db.exec('ROLLBACK').catch(() => undefined);
          throw err;
        }
        return { id: req.id, ok: true, count: open?.rows ?? 0 };
      }
      case 'resultsCopyAbort':
        openCopies.delete(req.copyId);
        return { id: req.id, ok: true };
      case 'close':
        await db.close();
        return { id: req.id, ok: true };
    }
  };

  port.on('message', (req: PgliteRequest) => {
    handle(req).then(
      (res) => {
        port.postMessage(res);
        if (req.op === 'close') port.close();
      },
      (err) => port.postMessage({ id: req.id, ok: false, error: wire(err) } satisfies PgliteResponse),
    );
  });
  release();
}

await main();
