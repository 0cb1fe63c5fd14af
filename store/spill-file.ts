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
    v: 1, runId: e.runId, at: e.at, uuid: b.turretUuid, name: b.turretName, seq: b.seq, count: b.count,
    errors: b.errors, timerNames: b.timerNames,
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
  const put = (arr: Float64Array | Int32Array, at: number) =>
    Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).copy(frame, 4 + at);
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

/** Reads every entry of a spill (or recovery) file, in order: how rows left behind are recovered. */
export async function* readSpillFile(path: string): AsyncGenerator<SpillEntry> {
  const fh = await open(path, 'r');
  try {
    const magic = Buffer.alloc(SPILL_MAGIC.length);
    const { bytesRead } = await fh.read(magic, 0, magic.length, 0);
    if (bytesRead < magic.length || !magic.equals(SPILL_MAGIC)) throw new Error(`${path} is not an oct spill file`);
    let pos = SPILL_MAGIC.length;
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
  } finally {
    await fh.close();
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

/**
 * The queue behind the memory bound. append() never waits: the write is chained behind earlier
 * file operations, and the frame stays readable from memory until it is on disk. If the disk
 * fails, frames stay in memory (logged, and reported by `diskError`) rather than being lost.
 */
export class SpillFile {
  private fh: Promise<FileHandle> | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private frames: Frame[] = [];
  private head = 0;
  private nextOffset = SPILL_MAGIC.length;
  private unreadRows = 0;
  diskError: Error | null = null;

  constructor(readonly path: string, private readonly log: Logger) {}

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

  /** Runs file operations one at a time, in call order (writes, reads and truncation interleave). */
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
    void this.serial(async () => {
      if (this.diskError) return;
      const fh = await this.file();
      await fh.write(buf, 0, buf.length, frame.offset);
      frame.buf = null;
    }).catch((err: Error) => {
      if (this.diskError) return;
      this.diskError = new Error(`spill file ${this.path}: write failed, keeping spilled rows in memory: ${err.message}`, { cause: err });
      this.log.error('spill write failed; rows stay in memory', { path: this.path, err });
    });
  }

  /** Takes the oldest entries, at least one and about maxRows rows. Entries leave only once read. */
  take(maxRows: number): Promise<SpillEntry[]> {
    // Picking runs inside the serial chain too, so two takes never pick the same frames.
    return this.serial(async () => {
      const picked: Frame[] = [];
      let rows = 0;
      for (let i = this.head; i < this.frames.length && (picked.length === 0 || rows + this.frames[i]!.rows <= maxRows); i++) {
        picked.push(this.frames[i]!);
        rows += this.frames[i]!.rows;
      }
      const out: SpillEntry[] = [];
      for (const f of picked) {
        let bytes = f.buf;
        if (!bytes) {
          bytes = Buffer.alloc(f.length);
          const { bytesRead } = await (await this.file()).read(bytes, 0, f.length, f.offset);
          if (bytesRead !== f.length) throw new Error(`spill file ${this.path}: short read at byte ${f.offset}`);
        }
        out.push(decodePayload(bytes.subarray(4)));
      }
      this.head += picked.length;
      this.unreadRows -= rows;
      if (this.head === this.frames.length) this.reset();
      else if (this.head > 1024 && this.head * 2 > this.frames.length) {
        this.frames = this.frames.slice(this.head);
        this.head = 0;
      }
      return out;
    });
  }

  private reset(): void {
    // Everything was taken: start the file over, so a long run's spills do not grow it forever.
    this.frames = [];
    this.head = 0;
    this.nextOffset = SPILL_MAGIC.length;
    if (this.fh && !this.diskError) void this.serial(async () => (await this.file()).truncate(SPILL_MAGIC.length)).catch(() => undefined);
  }

  /** Waits for queued file operations (tests, and before handing the file to someone else). */
  async settle(): Promise<void> {
    await this.chain;
  }

  /** Closes the file; removes it when nothing in it is left to take. */
  async close(): Promise<void> {
    await this.chain;
    if (this.fh) await (await this.fh).close().catch(() => undefined);
    this.fh = null;
    if (this.unreadRows === 0) rmSync(this.path, { force: true });
  }
}
