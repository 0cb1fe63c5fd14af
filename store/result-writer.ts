// Between the HQ socket loop and the store: enqueue() returns at once, and the rows reach the
// database in the background, through the store's open results COPY (on Postgres one binary COPY
// that the server parses while the next slice is built; on the embedded store, its worker builds
// each slice's text as it arrives and runs one COPY at the commit). The COPY is fed slice by slice
// and committed every `commitRows` rows or `commitMs`, or as soon as nothing is left to send.
// Memory is bounded: past `maxQueuedRows` batches go to a spill file and come back in order, read
// back at full speed while new batches keep spilling. Until a COPY commits, its rows stay in
// memory: a failing database is retried with backoff and rows are never dropped; whatever drain()
// cannot write in time is left in a file that can be recovered.
import { mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.ts';
import { systemClock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';
import { backoffMs } from './retry.ts';
import { encodeFrame, SPILL_MAGIC, SpillFile, type SpillEntry } from './spill-file.ts';
import type { DeliveredSeq, ResultsCopy, Store } from './types.ts';
import { open } from 'node:fs/promises';

export interface ResultWriterOptions {
  store: Pick<Store, 'openResultsCopy'>;
  runId: number;
  log: Logger;
  /** Where the spill file and, after a failed drain, the recovery file go (e.g. the results dir). */
  spillDir: string;
  clock?: Clock;
  /** Rows waiting that start a COPY at once; fewer wait up to flushMs for more (default 10k rows, 200 ms). */
  flushRows?: number;
  flushMs?: number;
  maxQueuedRows?: number;
  /** Commit after this many rows or this long (default 100k rows, 1 s), or when nothing is left to write. */
  commitRows?: number;
  commitMs?: number;
  /** Rows built and sent per step; the event loop gets a turn between steps (default 4000). */
  sliceRows?: number;
  /** Backoff after a failed write: doubles from retryMinMs up to retryMaxMs. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Hears the numbered messages whose rows were committed (the HQ acknowledges them). */
  onDelivered?: (delivered: DeliveredSeq[]) => void;
}

export interface ResultWriterStats {
  /** Rows waiting in memory. */
  queuedRows: number;
  /** Rows waiting in the spill file. */
  spilledRows: number;
  /** Rows the database confirmed. */
  writtenRows: number;
  /** Rows of the COPY being written (or waiting for a retry). */
  inFlightRows: number;
  /** Age of the oldest row not yet written, 0 when everything is written. */
  lagSeconds: number;
  lastError: string | null;
  failedWrites: number;
  /** Rows enqueued after close(): logged and counted, since there is nowhere left to put them. */
  refusedRows: number;
}

export class ResultDrainError extends Error {
  constructor(
    message: string,
    readonly unwrittenRows: number,
    /** The file holding the rows that were not written (readSpillFile reads it), or null. */
    readonly recoveryFile: string | null,
    /** Rows of a COPY still running at the deadline: they may or may not be stored. */
    readonly uncertainRows: number,
  ) {
    super(message);
    this.name = 'ResultDrainError';
  }
}

/** The numbered messages of a chunk, recorded in the COPY's transaction. */
function deliveredIn(chunk: SpillEntry[]): DeliveredSeq[] {
  const out: DeliveredSeq[] = [];
  for (const e of chunk) if (e.batch.turretUuid !== null && e.batch.seq !== null) out.push({ uuid: e.batch.turretUuid, seq: e.batch.seq });
  return out;
}

/** Lets timers, I/O and the socket loop run between two slices of COPY text. */
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export class ResultWriter {
  private readonly store: ResultWriterOptions['store'];
  private readonly runId: number;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly spillDir: string;
  private readonly flushRows: number;
  private readonly flushMs: number;
  private readonly maxQueuedRows: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly commitRows: number;
  private readonly commitMs: number;
  private readonly sliceRows: number;
  private readonly onDelivered: ResultWriterOptions['onDelivered'];

  // Oldest first: the chunk being written (or retried), then memory, then the spill file.
  private chunk: SpillEntry[] | null = null;
  private chunkRows = 0;
  private writing = false;
  private memory: SpillEntry[] = [];
  private memHead = 0;
  private memRows = 0;
  private spill: SpillFile | null = null;
  /** A read from the spill file in progress (its entries are in neither memory nor the file). */
  private taking: Promise<SpillEntry[]> | null = null;
  private inflight: Promise<void> | null = null;

  private writtenRows = 0;
  private failedWrites = 0;
  private consecutiveFailures = 0;
  private lastError: string | null = null;
  private refusedRows = 0;

  private flushTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private scheduled = false;
  private draining = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: ResultWriterOptions) {
    this.store = opts.store;
    this.runId = opts.runId;
    this.log = opts.log.child('result-writer');
    this.clock = opts.clock ?? systemClock;
    this.spillDir = opts.spillDir;
    this.flushRows = opts.flushRows ?? 10_000;
    this.flushMs = opts.flushMs ?? 200;
    this.maxQueuedRows = opts.maxQueuedRows ?? 500_000;
    this.retryMinMs = opts.retryMinMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 5_000;
    this.commitRows = opts.commitRows ?? 100_000;
    this.commitMs = opts.commitMs ?? 1_000;
    this.sliceRows = opts.sliceRows ?? 4_000;
    this.onDelivered = opts.onDelivered;
  }

  get spillPath(): string {
    return join(this.spillDir, `results-run${this.runId}.spill`);
  }

  /** Never blocks, never throws. The batch names the turret the HQ attributed it to (null name: legacy). */
  enqueue(batch: ResultBatch): void {
    try {
      if (batch.count <= 0) return;
      if (this.stopped) {
        this.refusedRows += batch.count;
        this.log.error('rows enqueued after the writer closed were not stored', { rows: batch.count, runId: this.runId });
        return;
      }
      const entry: SpillEntry = { runId: this.runId, at: this.clock.now(), batch };
      // Once anything is spilled, later batches follow it to disk, so rows keep their order.
      if ((this.spill && this.spill.rows > 0) || this.memRows + batch.count > this.maxQueuedRows) {
        this.spillFile().append(entry);
      } else {
        this.memory.push(entry);
        this.memRows += batch.count;
      }
      this.kick();
    } catch (err) {
      // Only a bug gets here (e.g. a malformed batch); say so loudly rather than throw into the socket loop.
      this.lastError = `enqueue failed: ${(err as Error).message}`;
      this.refusedRows += batch?.count ?? 0;
      this.log.error('enqueue failed', { err, runId: this.runId });
    }
  }

  stats(): ResultWriterStats {
    const oldest = this.chunk?.[0]?.at ?? (this.memHead < this.memory.length ? this.memory[this.memHead]!.at : null) ?? this.spill?.oldestAt ?? null;
    return {
      queuedRows: this.memRows,
      spilledRows: this.spill?.rows ?? 0,
      writtenRows: this.writtenRows,
      inFlightRows: this.chunk ? this.chunkRows : 0,
      lagSeconds: oldest === null ? 0 : Math.max(0, (this.clock.now() - oldest) / 1000),
      lastError: this.lastError,
      failedWrites: this.failedWrites,
      refusedRows: this.refusedRows,
    };
  }

  private spillFile(): SpillFile {
    if (!this.spill) {
      mkdirSync(this.spillDir, { recursive: true });
      this.setAsideOrphan();
      this.spill = new SpillFile(this.spillPath, this.log);
      this.log.warn('database behind; spilling results to disk', { path: this.spillPath, maxQueuedRows: this.maxQueuedRows });
    }
    return this.spill;
  }

  /**
   * A spill file left by an earlier process (a crashed HQ) would be truncated by ours: move it
   * aside and say where. It may also hold rows that process had already written.
   */
  private setAsideOrphan(): void {
    try {
      if (statSync(this.spillPath).size <= SPILL_MAGIC.length) return;
    } catch {
      return;
    }
    const aside = join(this.spillDir, `results-run${this.runId}-orphan-${this.clock.now()}.spill`);
    renameSync(this.spillPath, aside);
    this.log.warn('found a spill file from an earlier process; kept it aside (rows may be partly written already)', { path: aside, runId: this.runId });
  }

  private pendingRows(): number {
    return this.memRows + (this.spill?.rows ?? 0) + (this.chunk ? this.chunkRows : 0);
  }

  /** Decides whether to write now, later, or not at all; cheap, and called after every change. */
  private kick(): void {
    if (this.stopped || this.writing || this.retryTimer || this.scheduled) return;
    const rows = this.pendingRows();
    if (rows === 0) {
      this.notifyIdle();
      return;
    }
    if (this.chunk || this.draining || rows >= this.flushRows) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      // Off the caller's stack: building COPY text must not run inside the socket loop's enqueue.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.writeNext();
      });
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        if (!this.writing && !this.retryTimer && !this.stopped) void this.writeNext();
      }, this.flushMs);
    }
  }

  private takeFromMemory(maxRows: number): SpillEntry[] {
    const out: SpillEntry[] = [];
    let rows = 0;
    while (this.memHead < this.memory.length) {
      const e = this.memory[this.memHead]!;
      if (out.length && rows + e.batch.count > maxRows) break;
      out.push(e);
      rows += e.batch.count;
      this.memHead++;
    }
    this.memRows -= rows;
    if (this.memHead === this.memory.length) {
      this.memory = [];
      this.memHead = 0;
    } else if (this.memHead > 4096) {
      this.memory = this.memory.slice(this.memHead);
      this.memHead = 0;
    }
    return out;
  }

  /** The oldest entries not in the chunk, about maxRows rows: from memory, else from the spill file. */
  private async takeNext(maxRows: number): Promise<SpillEntry[]> {
    const next = this.takeFromMemory(maxRows);
    if (next.length || !this.spill || this.spill.rows === 0) return next;
    this.taking = this.spill.take(maxRows);
    try {
      return await this.taking;
    } finally {
      this.taking = null;
    }
  }

  /**
   * One COPY: re-sends the chunk kept from a failed attempt, then keeps taking the oldest rows and
   * sending them, slice by slice (on Postgres the server parses one slice while the next is built);
   * commits after commitRows rows or commitMs, or as soon as nothing is left to send. The chunk
   * (every row of the open COPY) is kept until the commit, so a failure loses nothing.
   */
  private async writeNext(): Promise<void> {
    if (this.stopped || this.writing) return;
    this.writing = true;
    let copy: ResultsCopy | null = null;
    let session: Promise<void> | null = null;
    let delivered: DeliveredSeq[] = [];
    try {
      if (!this.chunk) {
        // Nothing to retry: open a COPY only when there is something to send.
        const first = await this.takeNext(this.sliceRows);
        if (this.stopped || !first.length) return; // (a failed drain took `first` into its recovery file)
        this.chunk = first;
        this.chunkRows = first.reduce((n, e) => n + e.batch.count, 0);
      }
      const chunk = this.chunk;
      const started = this.clock.now();
      session = (async () => {
        copy = await this.store.openResultsCopy(this.runId);
        // The kept chunk first (a retry, or the first slice), in slices.
        for (let i = 0; i < chunk.length; ) {
          const slice: ResultBatch[] = [];
          let rows = 0;
          for (; i < chunk.length && (rows === 0 || rows + chunk[i]!.batch.count <= this.sliceRows); i++) {
            slice.push(chunk[i]!.batch);
            rows += chunk[i]!.batch.count;
          }
          await copy.write(slice);
          await yieldToLoop();
        }
        while (!this.stopped && this.chunk === chunk && this.chunkRows < this.commitRows && this.clock.now() - started < this.commitMs) {
          const next = await this.takeNext(Math.min(this.sliceRows, this.commitRows - this.chunkRows));
          // A failed drain took over (and `next` into its recovery file): commit what was sent.
          if (this.chunk !== chunk) break;
          if (!next.length) break;
          let rows = 0;
          for (const e of next) {
            chunk.push(e);
            rows += e.batch.count;
          }
          this.chunkRows += rows;
          await copy.write(next.map((e) => e.batch));
          await yieldToLoop();
        }
        delivered = deliveredIn(chunk);
        await copy.end(delivered);
      })();
      this.inflight = session;
      try {
        await session;
      } catch (err) {
        (copy as ResultsCopy | null)?.abort(err as Error);
        this.onWriteFailed(err as Error);
        return;
      } finally {
        this.inflight = null;
      }
      if (this.chunkCommitted(chunk) && delivered.length) this.onDelivered?.(delivered);
    } catch (err) {
      // Reading the spill file failed: the rows are still in it; try again after a pause.
      this.onWriteFailed(err as Error);
    } finally {
      this.writing = false;
      this.kick();
    }
  }

  /** Counts a committed chunk as written, unless a failed drain already accounted for it. */
  private chunkCommitted(chunk: unknown): boolean {
    if (this.chunk !== chunk) return false;
    this.writtenRows += this.chunkRows;
    this.chunk = null;
    this.chunkRows = 0;
    if (this.consecutiveFailures) {
      this.log.info('database writes recovered', { afterFailures: this.consecutiveFailures, runId: this.runId });
      this.consecutiveFailures = 0;
    }
    return true;
  }

  private onWriteFailed(err: Error): void {
    this.failedWrites++;
    this.consecutiveFailures++;
    this.lastError = err.message;
    if (this.stopped) return;
    const delay = backoffMs(this.consecutiveFailures, this.retryMinMs, this.retryMaxMs);
    // Log the first failure and then every tenth, so a long outage does not flood the log.
    if (this.consecutiveFailures === 1 || this.consecutiveFailures % 10 === 0) {
      this.log.warn('writing results failed; will retry', {
        err,
        attempt: this.consecutiveFailures,
        retryInMs: delay,
        pendingRows: this.pendingRows(),
        runId: this.runId,
      });
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Resolves once every enqueued row is written. At the deadline, stops writing and rejects with a
   * ResultDrainError naming how many rows are left and the file that holds them.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.stopped) throw new Error(`result writer for run ${this.runId} is closed`);
    this.draining = true;
    const idle = new Promise<void>((res) => this.idleWaiters.push(res));
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)));
    try {
      if ((await Promise.race([idle, deadline])) !== 'timeout') return;
    } finally {
      clearTimeout(timer);
      this.draining = false;
    }
    throw await this.giveUp(timeoutMs);
  }

  private async giveUp(timeoutMs: number): Promise<ResultDrainError> {
    this.stopTimers();
    this.stopped = true;
    // A COPY still running may settle in a moment; each row it settles is one less of uncertain fate.
    if (this.writing && this.chunk && this.inflight) {
      await Promise.race([this.inflight.catch(() => undefined), new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(50, timeoutMs / 10))))]);
    }
    const uncertain = this.writing && this.chunk ? this.chunk : [];
    const left: SpillEntry[] = this.writing ? [] : [...(this.chunk ?? [])];
    if (this.taking) left.push(...(await this.taking.catch(() => [])));
    left.push(...this.memory.slice(this.memHead));
    this.memory = [];
    this.memHead = 0;
    this.memRows = 0;
    this.chunk = null;
    const uncertainRows = uncertain.reduce((n, e) => n + e.batch.count, 0);
    const path = join(this.spillDir, `results-run${this.runId}-unwritten-${this.clock.now()}.spill`);
    let rows = 0;
    let file: string | null = null;
    try {
      mkdirSync(this.spillDir, { recursive: true });
      const fh = await open(path, 'w');
      try {
        await fh.write(SPILL_MAGIC);
        const write = async (entries: SpillEntry[]) => {
          for (const e of entries) {
            await fh.write(encodeFrame(e));
            rows += e.batch.count;
          }
        };
        // Oldest first; the rows of a COPY still running are the oldest (the error says so).
        await write(uncertain);
        await write(left);
        while (this.spill && this.spill.rows > 0) await write(await this.spill.take(this.flushRows));
        await fh.sync();
      } finally {
        await fh.close();
      }
      file = path;
      await this.spill?.close();
      this.spill = null;
    } catch (err) {
      this.log.error('could not save unwritten rows', { path, err });
      rows = left.reduce((n, e) => n + e.batch.count, 0) + (this.spill?.rows ?? 0) + uncertainRows;
    }
    const where = file
      ? `they are kept in ${file} (read it back with readSpillFile from store/spill-file.ts)`
      : `saving them to ${path} failed${this.spill ? `; ${this.spill.rows} remain in ${this.spill.path}` : ''}`;
    const msg =
      `result writer for run ${this.runId}: ${rows} rows not written after ${timeoutMs} ms` +
      (uncertainRows ? ` (the first ${uncertainRows} were in a COPY still running, which may yet commit)` : '') +
      `; ${where}` +
      (this.lastError ? `; last database error: ${this.lastError}` : '');
    this.log.error('drain timed out', { rows, file, uncertainRows, runId: this.runId });
    return new ResultDrainError(msg, rows, file, uncertainRows);
  }

  private stopTimers(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.flushTimer = null;
    this.retryTimer = null;
  }

  /** Stops the writer without waiting (call drain() first to keep everything). */
  async close(): Promise<void> {
    this.stopped = true;
    this.stopTimers();
    this.notifyIdle();
    await this.spill?.close();
  }
}
