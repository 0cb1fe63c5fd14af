// An append-only file of result batches, for when the database falls behind: the writer appends
// what does not fit in memory and takes it back, oldest first, when the database catches up.
//
// File layout: the 8-byte magic "OCTSPL1\n", then frames. A frame is a u32 (LE) payload length
// and the payload: a u32 header length, a JSON header {v, runId, at, uuid, name, seq, count,
// errors, timerNames}, zero padding to a multiple of 8 (from the payload start), then the
// columns: elapsed, epoch, scriptrunTime (f64 × count each), errorIndex (i32 × count), padding
// to 8, then one f64 × count column per timer name. All little-endian.
import { open, type FileHandle } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';

export const SPILL_MAGIC = Buffer.from('OCTSPL1\n', 'latin1');

/** One spilled batch: which run it belongs to and when it was enqueued (ms since the epoch). */
export interface SpillEntry {
  runId: number;
  at: number;
  batch: ResultBatch;
}

interface FrameHeader {
  v: 1;
  runId: number;
  at: number;
  uuid: string | null;
  name: string | null;
  seq: number | null;
  count: number;
  errors: string[];
  timerNames: string[];
}

const pad8 = (n: number) => (n + 7) & ~7;

/** The frame for an entry, length prefix included. */
export function encodeFrame(e: SpillEntry): Buffer {
  const b = e.batch;
  const header: FrameHeader = {
    v: 1,
    runId: e.runId,
    at: e.at,
    uuid: b.turretUuid,
    name: b.turretName,
    seq: b.seq,
    count: b.count,
    errors: b.errors,
    timerNames: b.timerNames,
  };
  const hb = Buffer.from(JSON.stringify(header), 'utf8');
  const n = b.count;
  const colsAt = pad8(4 + hb.length);
  const timersAt = colsAt + pad8(3 * 8 * n + 4 * n);
  const payloadLen = timersAt + b.timers.length * 8 * n;
  const frame = Buffer.alloc(4 + payloadLen);
  frame.writeUInt32LE(payloadLen, 0);
  frame.writeUInt32LE(hb.length, 4);
  hb.copy(frame, 8);
  const put = (arr: Float64Array | Int32Array, at: number) => Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).copy(frame, 4 + at);
  put(b.elapsed.subarray(0, n), colsAt);
  put(b.epoch.subarray(0, n), colsAt + 8 * n);
  put(b.scriptrunTime.subarray(0, n), colsAt + 16 * n);
  put(b.errorIndex.subarray(0, n), colsAt + 24 * n);
  b.timers.forEach((col, k) => put(col.subarray(0, n), timersAt + k * 8 * n));
  return frame;
}

/** Decodes a payload (the bytes after the length prefix). */
export function decodePayload(payload: Buffer): SpillEntry {
  const hlen = payload.readUInt32LE(0);
  const h = JSON.parse(payload.toString('utf8', 4, 4 + hlen)) as FrameHeader;
  if (h.v !== 1) throw new Error(`unknown spill frame version ${String(h.v)}`);
  const n = h.count;
  const colsAt = pad8(4 + hlen);
  const timersAt = colsAt + pad8(3 * 8 * n + 4 * n);
  // Copies into fresh buffers: typed arrays need aligned offsets and the payload may be pooled.
  const f64 = (at: number) => new Float64Array(Uint8Array.prototype.slice.call(payload, at, at + 8 * n).buffer);
  const batch: ResultBatch = {
    turretUuid: h.uuid,
    turretName: h.name,
    seq: h.seq,
    count: n,
    elapsed: f64(colsAt),
    epoch: f64(colsAt + 8 * n),
    scriptrunTime: f64(colsAt + 16 * n),
    errorIndex: new Int32Array(Uint8Array.prototype.slice.call(payload, colsAt + 24 * n, colsAt + 28 * n).buffer),
    errors: h.errors,
    timerNames: h.timerNames,
    timers: h.timerNames.map((_, k) => f64(timersAt + k * 8 * n)),
  };
  return { runId: h.runId, at: h.at, batch };
}

/** Reads every entry of a spill file, in order: how rows left behind are recovered. */
export async function* readSpillFile(path: string): AsyncGenerator<SpillEntry> {
  const fh = await open(path, 'r');
  try {
    const magic = Buffer.alloc(SPILL_MAGIC.length);
    const { bytesRead } = await fh.read(magic, 0, magic.length, 0);
    if (bytesRead < magic.length || !magic.equals(SPILL_MAGIC)) throw new Error(`${path} is not an oct spill file`);
    yield* readFrames(fh, SPILL_MAGIC.length, path);
  } finally {
    await fh.close();
  }
}

/** The frames of an open file from byte `pos` to its end (spill files, and the rows of a recovery file). */
export async function* readFrames(fh: FileHandle, pos: number, path: string): AsyncGenerator<SpillEntry> {
  const len = Buffer.alloc(4);
  for (;;) {
    const r = await fh.read(len, 0, 4, pos);
    if (r.bytesRead === 0) return;
    if (r.bytesRead < 4) throw new Error(`${path}: truncated frame at byte ${pos}`);
    const payload = Buffer.alloc(len.readUInt32LE(0));
    const p = await fh.read(payload, 0, payload.length, pos + 4);
    if (p.bytesRead < payload.length) throw new Error(`${path}: truncated frame at byte ${pos}`);
    yield decodePayload(payload);
    pos += 4 + payload.length;
  }
}

interface Frame {
  rows: number;
  at: number;
  offset: number;
  length: number;
  /** Kept until the bytes are on disk (or forever, if the disk refused them). */
  buf: Buffer | null;
}

/** Frames written to disk in one writev, at most (a long spill writes in big sequential steps). */
const MAX_WRITE_BYTES = 16 << 20;

/**
 * The queue behind the memory bound. append() never waits: frames are written in the background,
 * many per write, and each stays readable from memory until it is on disk. take() never waits for
 * the writes queued behind it (a busy socket loop appending faster than single writes complete
 * would otherwise starve the reader): it decodes frames still in memory and reads the rest in one
 * positional read. If the disk fails, frames stay in memory (logged, and reported by `diskError`)
 * rather than being lost.
 */
export class SpillFile {
  private fh: Promise<FileHandle> | null = null;
  /** File writes and truncation, in order. */
  private chain: Promise<unknown> = Promise.resolve();
  /** Takes, one at a time (they run alongside the writes). */
  private takeChain: Promise<unknown> = Promise.resolve();
  private frames: Frame[] = [];
  private head = 0;
  private nextOffset = SPILL_MAGIC.length;
  private unreadRows = 0;
  /** Frames appended and not yet handed to a write. */
  private unwritten: Frame[] = [];
  private writeQueued = false;
  /** Everything was taken: the file starts over (truncated) before the next write. */
  private truncatePending = false;
  diskError: Error | null = null;

  constructor(
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /** Rows appended and not yet taken. */
  get rows(): number {
    return this.unreadRows;
  }

  /** Enqueue time of the oldest entry not yet taken. */
  get oldestAt(): number | null {
    return this.head < this.frames.length ? this.frames[this.head]!.at : null;
  }

  private file(): Promise<FileHandle> {
    this.fh ??= open(this.path, 'w+').then(async (fh) => {
      await fh.write(SPILL_MAGIC, 0, SPILL_MAGIC.length, 0);
      return fh;
    });
    return this.fh;
  }

  /** Runs file writes one at a time, in call order. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.chain.then(op);
    this.chain = p.catch(() => undefined);
    return p;
  }

  append(e: SpillEntry): void {
    const buf = encodeFrame(e);
    const frame: Frame = { rows: e.batch.count, at: e.at, offset: this.nextOffset, length: buf.length, buf };
    this.frames.push(frame);
    this.unreadRows += frame.rows;
    this.nextOffset += buf.length;
    if (this.diskError) return;
    this.unwritten.push(frame);
    if (!this.writeQueued) {
      this.writeQueued = true;
      void this.serial(() => this.writeSome());
    }
  }

  /** Writes the frames appended so far (up to MAX_WRITE_BYTES) in one writev; queues itself again if more came. */
  private async writeSome(): Promise<void> {
    this.writeQueued = false;
    if (this.diskError) return;
    try {
      const fh = await this.file();
      if (this.truncatePending) {
        this.truncatePending = false;
        await fh.truncate(SPILL_MAGIC.length);
      }
      let bytes = 0;
      let n = 0;
      while (n < this.unwritten.length && (n === 0 || bytes + this.unwritten[n]!.length <= MAX_WRITE_BYTES)) bytes += this.unwritten[n++]!.length;
      const batch = this.unwritten.splice(0, n);
      if (batch.length) {
        const bufs = batch.map((f) => f.buf!);
        let written = 0;
        while (written < bytes) {
          // Frames are contiguous in the file, so one positional writev writes them all.
          const r = await fh.writev(written ? [Buffer.concat(bufs).subarray(written)] : bufs, batch[0]!.offset + written);
          if (r.bytesWritten <= 0) throw new Error('write returned 0 bytes');
          written += r.bytesWritten;
        }
        for (const f of batch) f.buf = null;
      }
    } catch (err) {
      if (!this.diskError) {
        this.diskError = new Error(`spill file ${this.path}: write failed, keeping spilled rows in memory: ${(err as Error).message}`, { cause: err });
        this.log.error('spill write failed; rows stay in memory', { path: this.path, err });
      }
      this.unwritten = [];
      return;
    }
    if (this.unwritten.length && !this.writeQueued) {
      this.writeQueued = true;
      void this.serial(() => this.writeSome());
    }
  }

  /** Takes the oldest entries, at least one and about maxRows rows. Entries leave only once read. */
  take(maxRows: number): Promise<SpillEntry[]> {
    // Takes run one at a time, so two never pick the same frames; they do not wait for writes.
    const p = this.takeChain.then(async () => {
      const picked: Frame[] = [];
      let rows = 0;
      for (let i = this.head; i < this.frames.length && (picked.length === 0 || rows + this.frames[i]!.rows <= maxRows); i++) {
        picked.push(this.frames[i]!);
        rows += this.frames[i]!.rows;
      }
      // Bytes still in memory are used as they are; frames already on disk (a prefix: frames are
      // written in order) come back in one read.
      const bytes = picked.map((f) => f.buf);
      let onDisk = 0;
      while (onDisk < picked.length && !bytes[onDisk]) onDisk++;
      if (onDisk) {
        const from = picked[0]!.offset;
        const len = picked[onDisk - 1]!.offset + picked[onDisk - 1]!.length - from;
        const all = Buffer.allocUnsafe(len);
        let got = 0;
        const fh = await this.file();
        while (got < len) {
          const { bytesRead } = await fh.read(all, got, len - got, from + got);
          if (bytesRead <= 0) throw new Error(`spill file ${this.path}: short read at byte ${from + got}`);
          got += bytesRead;
        }
        for (let i = 0; i < onDisk; i++) bytes[i] = all.subarray(picked[i]!.offset - from, picked[i]!.offset - from + picked[i]!.length);
      }
      const out = bytes.map((b) => decodePayload(b!.subarray(4)));
      this.head += picked.length;
      this.unreadRows -= rows;
      if (this.head === this.frames.length) this.reset();
      else if (this.head > 1024 && this.head * 2 > this.frames.length) {
        this.frames = this.frames.slice(this.head);
        this.head = 0;
      }
      return out;
    });
    this.takeChain = p.catch(() => undefined);
    return p;
  }

  private reset(): void {
    // Everything was taken: start the file over, so a long run's spills do not grow it forever.
    // Frames not yet written need not be (they were all taken), and the next write truncates first.
    this.frames = [];
    this.head = 0;
    this.nextOffset = SPILL_MAGIC.length;
    this.unwritten = [];
    if (this.fh && !this.diskError) {
      this.truncatePending = true;
      // Whichever comes first truncates: this, or the next write (which must land after it).
      void this.serial(async () => {
        if (!this.truncatePending || this.diskError) return;
        this.truncatePending = false;
        await (await this.file()).truncate(SPILL_MAGIC.length);
      }).catch(() => undefined);
    }
  }

  /** Waits for queued file operations (tests, and before handing the file to someone else). */
  async settle(): Promise<void> {
    await this.takeChain;
    await this.chain;
  }

  /** Closes the file; removes it when nothing in it is left to take. */
  async close(): Promise<void> {
    await this.settle();
    if (this.fh) await (await this.fh).close().catch(() => undefined);
    this.fh = null;
    if (this.unreadRows === 0) rmSync(this.path, { force: true });
  }
}
