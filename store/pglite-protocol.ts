// Messages between the embedded store (HQ thread) and its PGlite worker. Small on purpose: the
// worker is a SQL engine behind a mailbox, nothing more.
import type { ResultBatch } from '../protocol/results.ts';

export interface PgliteWorkerData {
  dataDir: string;
  /** An initialised (and migrated) data directory to copy instead of running initdb; null for none. */
  templateDir: string | null;
}

export type PgliteRequest =
  | { id: number; op: 'query'; sql: string; params: unknown[] | undefined }
  | { id: number; op: 'copy'; sql: string; text: string }
  /** The COPY text is built in the worker, so the HQ thread only clones typed arrays. */
  | { id: number; op: 'writeResults'; runId: number; batches: ResultBatch[] }
  /** A results COPY fed slice by slice (EmbeddedDriver.openResultsCopy): text built on arrival, stored at the end. */
  | { id: number; op: 'resultsCopyWrite'; copyId: number; runId: number; batches: ResultBatch[] }
  | { id: number; op: 'resultsCopyEnd'; copyId: number; then?: { sql: string; params: unknown[] } }
  | { id: number; op: 'resultsCopyAbort'; copyId: number }
  | { id: number; op: 'close' };

/** A Postgres error's fields that survive the structured clone. */
export interface WireError {
  message: string;
  code?: string;
  detail?: string;
  hint?: string;
}

export type PgliteResponse = { id: number; ok: true; rows?: unknown[]; count?: number } | { id: number; ok: false; error: WireError };

export type PgliteEvent = { kind: 'ready'; startupMs: number; fromTemplate: 'spare' | 'copy' | false } | { kind: 'fatal'; error: WireError };
