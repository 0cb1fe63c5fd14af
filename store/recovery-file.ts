// What an HQ leaves behind when the store never came back before the end of a run: one file with
// everything it received and could not store — the run's final state and summary, the aggregates,
// the turrets and their status changes, the artifacts, and the result rows — so that
// `oct recover FILE` can put the run into a database later, exactly as if it had been stored.
//
// Layout: the 8-byte magic "OCTRCV1\n", a u32 (LE) header length, the header as JSON, then the
// result rows as spill frames (store/spill-file.ts), oldest first.
import { createReadStream } from 'node:fs';
import { type FileHandle, open, rename } from 'node:fs/promises';
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';
import { readFrames, SPILL_MAGIC } from './spill-file.ts';
import type { AggregateRow, ErrorCountRow, RunInfo, RunPatch, RunState, StatusChange, Store, TurretRecord } from './types.ts';

export const RECOVERY_MAGIC = Buffer.from('OCTRCV1\n', 'latin1');

export interface RecoveryContent {
  run: Pick<RunInfo, 'id' | 'name' | 'config' | 'hqId' | 'startedAt'>;
  /** The state the run would have been given had the store been there. */
  final: Required<Pick<RunPatch, 'state' | 'endedAt' | 'error' | 'summary'>>;
  aggregates: AggregateRow[];
  errorCounts: ErrorCountRow[];
  turrets: TurretRecord[];
  statusChanges: StatusChange[];
  artifacts: { name: string; content: Buffer }[];
  /** Rows of a COPY that was still running when the HQ gave up: they may also be in the store. */
  uncertainRows: number;
}

interface Header {
  v: 1;
  run: { id: number; name: string; config: unknown; hqId: string | null; startedAt: string | null };
  final: { state: RunState; endedAt: string; error: string | null; summary: unknown };
  aggregates: AggregateRow[];
  errorCounts: ErrorCountRow[];
  turrets: (Omit<TurretRecord, 'firstSeen' | 'lastSeen'> & { firstSeen: string; lastSeen: string })[];
  statusChanges: (Omit<StatusChange, 'at'> & { at: string })[];
  artifacts: { name: string; base64: string }[];
  rows: number;
  uncertainRows: number;
}

export class RecoveryFileError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'RecoveryFileError';
  }
}

/**
 * Writes the recovery file at `path` (through a temporary name, so a half-written file is never
 * taken for a whole one). `rowsFrom` is a spill file holding the unwritten rows, or null.
 */
export async function writeRecoveryFile(path: string, content: RecoveryContent, rowsFrom: { path: string; rows: number } | null): Promise<void> {
  const header: Header = {
    v: 1,
    run: { ...content.run, startedAt: content.run.startedAt?.toISOString() ?? null },
    final: { ...content.final, endedAt: content.final.endedAt.toISOString() },
    aggregates: content.aggregates,
    errorCounts: content.errorCounts,
    turrets: content.turrets.map((t) => ({ ...t, firstSeen: t.firstSeen.toISOString(), lastSeen: t.lastSeen.toISOString() })),
    statusChanges: content.statusChanges.map((c) => ({ ...c, at: c.at.toISOString() })),
    artifacts: content.artifacts.map((a) => ({ name: a.name, base64: a.content.toString('base64') })),
    rows: rowsFrom?.rows ?? 0,
    uncertainRows: content.uncertainRows,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  const tmp = `${path}.partial`;
  const fh = await open(tmp, 'w');
  try {
    await fh.write(Buffer.concat([RECOVERY_MAGIC, len, json]));
    if (rowsFrom) {
      // The spill file's frames as they are, after its own magic.
      for await (const chunk of createReadStream(rowsFrom.path, { start: SPILL_MAGIC.length })) await fh.write(chunk as Buffer);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

export interface RecoveryFile {
  content: RecoveryContent;
  rows: number;
  /** The result rows, oldest first. */
  batches(): AsyncGenerator<ResultBatch>;
}

export async function readRecoveryFile(path: string): Promise<RecoveryFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new RecoveryFileError(path, `cannot open: ${(err as Error).message}`);
  }
  let header: Header;
  let framesAt: number;
  try {
    const head = Buffer.alloc(RECOVERY_MAGIC.length + 4);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    if (bytesRead < head.length || !head.subarray(0, RECOVERY_MAGIC.length).equals(RECOVERY_MAGIC))
      throw new RecoveryFileError(path, 'not an oct recovery file');
    const n = head.readUInt32LE(RECOVERY_MAGIC.length);
    const json = Buffer.alloc(n);
    if ((await fh.read(json, 0, n, head.length)).bytesRead < n) throw new RecoveryFileError(path, 'truncated header');
    header = JSON.parse(json.toString('utf8')) as Header;
    if (header.v !== 1) throw new RecoveryFileError(path, `unknown version ${String(header.v)}`);
    framesAt = head.length + n;
  } catch (err) {
    throw err instanceof RecoveryFileError ? err : new RecoveryFileError(path, `unreadable header: ${(err as Error).message}`);
  } finally {
    // The rows are read later, lazily, through a handle of their own.
    await fh.close();
  }
  const content: RecoveryContent = {
    run: { ...header.run, startedAt: header.run.startedAt ? new Date(header.run.startedAt) : null },
    final: { ...header.final, state: header.final.state as RunState, endedAt: new Date(header.final.endedAt) },
    aggregates: header.aggregates,
    errorCounts: header.errorCounts,
    turrets: header.turrets.map((t) => ({ ...t, firstSeen: new Date(t.firstSeen), lastSeen: new Date(t.lastSeen) })),
    statusChanges: header.statusChanges.map((c) => ({ ...c, at: new Date(c.at) })),
    artifacts: header.artifacts.map((a) => ({ name: a.name, content: Buffer.from(a.base64, 'base64') })),
    uncertainRows: header.uncertainRows,
  };
  return {
    content,
    rows: header.rows,
    async *batches() {
      const rows = await open(path, 'r');
      try {
        for await (const e of readFrames(rows, framesAt, path)) yield e.batch;
      } finally {
        await rows.close();
      }
    },
  };
}

export interface Recovered {
  runId: number;
  /** False when the run was not in this database and was created anew (its id then differs). */
  sameRun: boolean;
  rows: number;
  aggregateRows: number;
}

const ROWS_PER_COPY = 100_000;
const AGGREGATES_PER_WRITE = 10_000;

/**
 * Puts a recovery file's run into `store`: into the same run when the database holds it (by id
 * and name), else into a new run of that name. Rows go in COPYs of at most 100k rows.
 */
export async function recoverRun(store: Store, file: RecoveryFile, log: Logger): Promise<Recovered> {
  const { content } = file;
  const existing = await store.getRun(content.run.id);
  const sameRun = existing !== null && existing.name === content.run.name;
  let runId = content.run.id;
  if (!sameRun) {
    const created = await store.createRun({ name: content.run.name, config: content.run.config, hqId: content.run.hqId });
    runId = created.id;
    if (content.run.startedAt) await store.updateRun(runId, { startedAt: content.run.startedAt, state: 'running' });
    log.info('the run is not in this database; recovering it as a new run', { name: content.run.name, originalId: content.run.id, runId });
  }
  for (const t of content.turrets) await store.upsertTurret(runId, t);
  for (const c of content.statusChanges) await store.recordStatusChange(runId, c);
  let rows = 0;
  let pending: ResultBatch[] = [];
  let pendingRows = 0;
  const flush = async () => {
    if (!pending.length) return;
    rows += await store.writeResults(runId, pending);
    pending = [];
    pendingRows = 0;
  };
  for await (const batch of file.batches()) {
    pending.push(batch);
    pendingRows += batch.count;
    if (pendingRows >= ROWS_PER_COPY) await flush();
  }
  await flush();
  for (let i = 0; i < Math.max(content.aggregates.length, content.errorCounts.length); i += AGGREGATES_PER_WRITE)
    await store.writeAggregates(runId, content.aggregates.slice(i, i + AGGREGATES_PER_WRITE), content.errorCounts.slice(i, i + AGGREGATES_PER_WRITE));
  for (const a of content.artifacts) await store.saveArtifact(runId, a.name, a.content);
  await store.updateRun(runId, content.final);
  return { runId, sameRun, rows, aggregateRows: content.aggregates.length };
}
