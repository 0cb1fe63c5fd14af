// The Store on PGlite, with its data directory on disk (a run's results directory), for `oct run`
// on a machine with no database server. PGlite is WASM and computes on the thread that calls it,
// so it lives in a worker thread; this side only posts messages and matches answers.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../common/log.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { PgliteEvent, PgliteRequest, PgliteResponse, PgliteWorkerData, WireError } from './pglite-protocol.ts';
import { deliveredJson, SqlStore, type SessionDriver, type SqlSession, WRITE_DELIVERED_SQL } from './sql-store.ts';
import type { ResultsCopy } from './types.ts';
import { ensureTemplate, isDataDir, makeSpare, templateDirFor } from './pglite-template.ts';
import { MIGRATIONS } from './schema.ts';

export interface EmbeddedOptions {
  /**
   * Where the initialised and migrated PGlite data directory that new data directories start as a
   * copy of lives (built on first use, see pglite-template.ts); undefined for the shared default
   * in the temp directory, null to run initdb and the migrations every time.
   */
  templateDir?: string | null;
}

type Pending = { resolve: (r: PgliteResponse & { ok: true }) => void; reject: (e: Error) => void; what: string };

// Omit<> over a union would collapse it; this keeps each request shape.
type RequestBody = PgliteRequest extends infer R ? (R extends PgliteRequest ? Omit<R, 'id'> : never) : never;

export class EmbeddedDriver implements SessionDriver {
  private nextId = 1;
  private nextCopyId = 1;
  private readonly pending = new Map<number, Pending>();
  private gate: Promise<void> = Promise.resolve();
  private dead: Error | null = null;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    readonly dataDir: string,
    /** Time PGlite took to open the directory, in the worker. */
    readonly startupMs: number,
    /** Whether the directory was new and seeded from the template's spare or a copy of it (see pglite-template.ts). */
    readonly fromTemplate: 'spare' | 'copy' | false,
  ) {
    worker.on('message', (m: PgliteResponse) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m);
      else p.reject(this.toError(m.error, p.what));
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => fail(new Error(`embedded database (${dataDir}) worker crashed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => {
      if (!this.closed) fail(new Error(`embedded database (${dataDir}) worker exited (code ${code})`));
    });
  }

  /** Starts the worker and waits until PGlite has opened (or initialised) the data directory. */
  static async start(dataDir: string, opts: EmbeddedOptions = {}): Promise<EmbeddedDriver> {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const worker = new Worker(new URL('./pglite-worker-boot.mjs', import.meta.url), {
      workerData: { dataDir: dir, templateDir: opts.templateDir ?? null } satisfies PgliteWorkerData,
    });
    const ready = await new Promise<{ startupMs: number; fromTemplate: 'spare' | 'copy' | false }>((res, rej) => {
      const onExit = (code: number) => rej(new Error(`embedded database (${dir}) worker exited during start-up (code ${code})`));
      const onError = (err: Error) => rej(new Error(`embedded database (${dir}) failed to start: ${err.message}`, { cause: err }));
      worker.once('exit', onExit);
      worker.once('error', onError);
      worker.once('message', (m: PgliteEvent) => {
        worker.off('exit', onExit);
        worker.off('error', onError);
        if (m.kind === 'ready') res(m);
        else {
          void worker.terminate();
          rej(new Error(`embedded database (${dir}) failed to start: ${m.error.message}`));
        }
      });
    });
    return new EmbeddedDriver(worker, dir, ready.startupMs, ready.fromTemplate);
  }

  private toError(w: WireError, what: string): Error {
    const e = new Error(`embedded database (${this.dataDir}): ${what} failed: ${w.message}`);
    return Object.assign(e, { code: w.code, detail: w.detail, hint: w.hint });
  }

  private call(body: RequestBody, what: string): Promise<PgliteResponse & { ok: true }> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closed) return Promise.reject(new Error(`embedded database (${this.dataDir}) is closed: ${what}`));
    const id = this.nextId++;
    return new Promise((res, rej) => {
      this.pending.set(id, { resolve: res, reject: rej, what });
      this.worker.postMessage({ ...body, id } as PgliteRequest);
    });
  }

  private async raw<T>(sql: string, params?: unknown[]): Promise<T[]> {
    const r = await this.call({ op: 'query', sql, params }, `query "${sql.trim().slice(0, 60)}"`);
    return (r.rows ?? []) as T[];
  }

  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    await this.gate;
    return this.raw<T>(sql, params);
  }

  async copyFrom(sql: string, text: string): Promise<void> {
    await this.gate;
    await this.call({ op: 'copy', sql, text }, 'COPY');
  }

  async writeResults(runId: number, batches: ResultBatch[]): Promise<number> {
    await this.gate;
    return (await this.call({ op: 'writeResults', runId, batches }, 'COPY results')).count ?? 0;
  }

  /**
   * A results COPY the worker holds: each write's text is built there as it arrives, and end()
   * stores all of it in one COPY, one transaction. Only end() runs SQL, so only end() waits for a
   * session to finish.
   */
  openResultsCopy(runId: number): ResultsCopy {
    const copyId = this.nextCopyId++;
    let closed = false;
    return {
      write: async (batches) => {
        if (closed) throw new Error(`embedded database (${this.dataDir}): results COPY already ended`);
        await this.call({ op: 'resultsCopyWrite', copyId, runId, batches }, 'COPY results');
      },
      end: async (delivered) => {
        if (closed) throw new Error(`embedded database (${this.dataDir}): results COPY already ended`);
        closed = true;
        await this.gate;
        const then = delivered?.length ? { sql: WRITE_DELIVERED_SQL, params: [runId, deliveredJson(delivered)] } : undefined;
        await this.call({ op: 'resultsCopyEnd', copyId, then }, 'COPY results');
      },
      // The worker forgets the text; after a failed end() it already has.
      abort: () => {
        closed = true;
        this.call({ op: 'resultsCopyAbort', copyId }, 'abort COPY results').catch(() => undefined);
      },
    };
  }

  /** PGlite has one session: a session here holds back every other call until it ends. */
  async withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const before = this.gate;
    let release!: () => void;
    this.gate = new Promise((r) => (release = r));
    await before;
    try {
      return await fn({ query: (sql, params) => this.raw(sql, params) });
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.dead) {
      await this.call({ op: 'close' }, 'close').catch(() => undefined);
    }
    this.closed = true;
    await this.worker.terminate();
  }
}

const SPARE_DELAY_MS = 2_000;

export class EmbeddedStore extends SqlStore {
  constructor(
    private readonly driver: EmbeddedDriver,
    log: Logger,
  ) {
    super('embedded', driver.dataDir, driver, log);
  }

  /** How long PGlite took to open the data directory, in the worker (for logs and benchmarks). */
  get startupMs(): number {
    return this.driver.startupMs;
  }

  /**
   * A data directory that has just become a copy of the template is migrated already (the
   * template is keyed by the migrations): checking again cost ~0.1-0.2 s of PGlite's first
   * statements on the start-up path.
   */
  override async migrate(): Promise<void> {
    if (!this.driver.fromTemplate) await super.migrate();
  }

  override async writeResults(runId: number, batches: ResultBatch[]): Promise<number> {
    return this.driver.writeResults(runId, batches);
  }

  override async openResultsCopy(runId: number): Promise<ResultsCopy> {
    return this.driver.openResultsCopy(runId);
  }
}

export async function openEmbeddedStore(dataDir: string, log: Logger, opts: EmbeddedOptions = {}): Promise<EmbeddedStore> {
  const t0 = performance.now();
  const templateDir = opts.templateDir === undefined ? templateDirFor(MIGRATIONS) : opts.templateDir;
  if (templateDir && !isDataDir(resolve(dataDir))) {
    await ensureTemplate(templateDir, async (dir) => {
      log.info('building the embedded database template (once per schema)', { dir: templateDir });
      const store = new EmbeddedStore(await EmbeddedDriver.start(dir, { templateDir: null }), log);
      try {
        await store.migrate();
      } finally {
        await store.close();
      }
    }).catch((err) => log.warn('cannot build the embedded database template: initialising from scratch', { dir: templateDir, error: err as Error }));
  }
  const driver = await EmbeddedDriver.start(dataDir, { templateDir });
  log.info('embedded database ready', {
    dir: driver.dataDir,
    startupMs: Math.round(performance.now() - t0),
    pgliteMs: driver.startupMs,
    fromTemplate: driver.fromTemplate,
    sinceStartMs: Math.round(performance.now()),
  });
  // For the next store: off the start-up path, and it never holds this one up. Not at once: the
  // copy's directory walk took ~0.1 s of the HQ's thread while the turrets were still starting on
  // the same cores (profiled); a process that ends first leaves no spare and the next one copies.
  if (templateDir && driver.fromTemplate) {
    setTimeout(() => makeSpare(templateDir).catch((err) => log.debug('no spare copy of the template', { error: err as Error })), SPARE_DELAY_MS).unref();
  }
  return new EmbeddedStore(driver, log);
}
