// The turret: announces itself to the HQ, obeys its orders (start, stop, kill, status_request,
// set_transaction_context), runs the canons over the rampup, batches their results, and leaves
// gracefully (in-flight iterations finish, results flushed, final status with the last seq).
import type { Agent } from 'undici';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { ExitCode } from '../common/exit-codes.ts';
import { MAX_CANONS_LIMIT, type TurretConfig } from '../protocol/config.ts';
import { parsePlanWire, type TurretPlan } from '../protocol/load-plan.ts';
import { encodeLoadReport } from '../protocol/load-report.ts';
import { type AckWire, type Order, parseOrder } from '../protocol/orders.ts';
import type { ResultRow } from '../protocol/results.ts';
import { encodeStatus, type StatusFields } from '../protocol/status.ts';
import { Batcher } from './batcher.ts';
import { buildTransaction, CanonConstructionError, type CanonDeps, runCanon } from './canon.ts';
import { HealthSampler } from './health.ts';
import { anchorPlan, PlannedVolley } from './planned-load.ts';
import { Http1Connector } from './http1-client.ts';
import type WebSocket from 'ws';
import { type AgentTls, warmUpHttp } from './http-client.ts';
import { rampupSchedule } from './rampup.ts';
import type { TransactionClass } from './script-api.ts';
import { ScriptLoadError } from './script-loader.ts';
import { Sender } from './sender.ts';
import type { TurretSockets } from './sockets.ts';

type State = StatusFields['status'];

export interface TurretOptions {
  config: TurretConfig;
  uuid: string;
  sockets: TurretSockets;
  /** Loads the script; a ScriptLoadError (or any throw) aborts the turret. */
  loadScript: () => Promise<TransactionClass>;
  clock: Clock;
  log: Logger;
  /** Results buffered while the HQ is not reading, before canons are held back. */
  maxBufferedResults?: number;
  /** How long a graceful stop waits for in-flight iterations (ms). */
  stopTimeoutMs?: number;
  /** How long the final messages may take to leave (ms). */
  drainTimeoutMs?: number;
  /** TLS settings of the turret's connections (turret/tls-files.ts). */
  tls?: AgentTls;
}

interface Volley {
  stopping: boolean;
  startedAt: number;
  pendingStarts: NodeJS.Timeout[];
  canons: Promise<void>[];
  running: number;
  /** Shared by the volley's canons. */
  stopRequested: () => boolean;
}

export class Turret {
  private state: State = 'ready';
  private readonly data: Record<string, unknown> = {};
  /** The HQ's share of the project's data file: one row per canon, by index. */
  private rows: unknown[] | null = null;
  private readonly sender: Sender;
  private readonly batcher: Batcher;
  private readonly health = new HealthSampler();
  /** undici's pool, made only for http.client "undici" (loading undici costs ~120 ms of start-up). */
  private agent: Agent | null = null;
  /** The canons' own HTTP/1.1 connections (http.client "oct"), closed with the turret. */
  private readonly connector: Http1Connector;
  private readonly webSockets = new Set<WebSocket>();
  private readonly log: Logger;
  private Transaction: TransactionClass | null = null;
  private volley: Volley | null = null;
  /** The HQ's latest plan for this turret; with one, `start` follows it instead of canons/rampup. */
  private plan: TurretPlan | null = null;
  /** The HQ process and run of the last acknowledgement (a different HQ of the same run: a restart). */
  private ackedBy: { hq: string; run: number } | null = null;
  private planned: PlannedVolley | null = null;
  private stopping: Promise<void> | null = null;
  private startAfterStop = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private exiting: Promise<number> | null = null;
  private resolveExit!: (code: number) => void;
  private readonly exited = new Promise<number>((r) => (this.resolveExit = r));

  constructor(private readonly opts: TurretOptions) {
    this.log = opts.log.child('turret');
    this.connector = new Http1Connector(opts.tls);
    this.sender = new Sender(opts.sockets.push, this.log.child('sender'), opts.maxBufferedResults ?? 200_000, opts.sockets.stamp);
    this.batcher = new Batcher(
      this.sender,
      { uuid: opts.uuid, turret: opts.config.name },
      { maxResults: opts.config.batch_max_results, maxMs: opts.config.batch_max_ms },
    );
  }

  private get httpOptions() {
    const h = this.opts.config.http;
    return { maxRedirects: h.max_redirects, timeoutMs: h.timeout * 1000, requestMetrics: h.request_metrics, cookies: h.cookies };
  }

  get uuid(): string {
    return this.opts.uuid;
  }

  /** Results recorded by the canons since the process started (sent or still buffered). */
  get resultsRecorded(): number {
    return this.batcher.resultsRecorded;
  }

  /** Runs until kill, a signal-driven shutdown, or an abort; resolves to the process exit code. */
  async run(): Promise<number> {
    const { config } = this.opts;
    try {
      this.Transaction = await this.opts.loadScript();
    } catch (err) {
      const reason = err instanceof ScriptLoadError ? `script ${err.message}` : `script ${config.script}: ${(err as Error)?.message ?? String(err)}`;
      return this.abort(reason);
    }
    if (config.http.client === 'undici') this.agent = (await import('./undici-transport.ts')).createHttpAgent({ tls: this.opts.tls });
    await warmUpHttp(300, config.http.client).catch((err) => this.log.debug('HTTP warm-up failed', { error: err as Error }));
    this.log.info('waiting for the HQ', { sinceStartMs: Math.round(performance.now()), hq: `${config.hq_address}:${config.hq_publisher}/${config.hq_rc}` });
    void this.receiveOrders();
    await Promise.race([this.opts.sockets.subConnected, this.exited]);
    if (this.exiting) return this.exited;
    this.sendStatus();
    this.log.info('ready', { uuid: this.uuid, canons: config.canons, rampup: config.rampup, sinceStartMs: Math.round(performance.now()) });
    this.heartbeat = setInterval(() => this.beat(), config.heartbeat_ms);
    return this.exited;
  }

  /** SIGTERM / SIGINT: finish in-flight iterations, flush, final status, close, exit 0. */
  shutdown(why: string): Promise<number> {
    return this.exit(ExitCode.OK, 'killed', why);
  }

  private async receiveOrders(): Promise<void> {
    try {
      for await (const [frame] of this.opts.sockets.sub) {
        if (frame) this.onFrame(frame);
      }
    } catch (err) {
      if (!this.opts.sockets.sub.closed) this.log.error('order socket failed', { error: err as Error });
    }
  }

  private onFrame(frame: Buffer): void {
    const parsed = parseOrder(frame);
    if (parsed.channel !== '' && parsed.channel !== this.uuid) return; // a direct order for another turret
    if (!parsed.ok) {
      this.log.warn('ignored order', { reason: parsed.reason, frame: frame.toString('utf8', 0, 200) });
      return;
    }
    this.onOrder(parsed.order);
  }

  private onOrder(order: Order): void {
    this.log.debug('order', { command: order.command });
    switch (order.command) {
      case 'status_request':
        this.sendStatus();
        return;
      case 'set_transaction_context':
        Object.assign(this.data, order.msg);
        return;
      case 'start':
        if (this.stopping) this.startAfterStop = true;
        else if (this.volley) this.log.info('start ignored: already running');
        else if (!this.exiting) this.start();
        return;
      case 'stop':
        this.startAfterStop = false;
        void this.stop();
        return;
      case 'kill':
        void this.exit(ExitCode.OK, 'killed', 'kill order');
        return;
      case 'results_storage':
        this.batcher.keepRows(order.msg);
        return;
      case 'ack':
        this.onAck(order.msg);
        return;
      case 'data_rows':
        if (order.msg.uuid !== this.uuid) return; // another turret's rows
        if (this.rows === null) this.log.info('data rows', { rows: order.msg.rows.length });
        this.rows = order.msg.rows;
        return;
      case 'plan': {
        const parsed = parsePlanWire(order.msg);
        if (!parsed.ok || parsed.uuid !== this.uuid) return; // parseOrder validated it; another turret's plan
        if (this.plan && parsed.plan.planId <= this.plan.planId && parsed.plan.t0 === this.plan.t0) return;
        this.plan = parsed.plan;
        this.log.info('plan', { planId: parsed.plan.planId, model: parsed.plan.model, share: `${parsed.plan.index + 1} of ${parsed.plan.weights.length}` });
        if (this.planned && !this.volley?.stopping) this.planned.replan(parsed.plan);
        else if (this.volley && !this.volley.stopping) this.log.warn('plan received while running without one: it applies from the next start');
        return;
      }
    }
  }

  /** The HQ says what it stored; a new HQ of the same run (a restart) gets again what the old one did not store. */
  private onAck(ack: AckWire): void {
    const seq = ack.seqs[this.uuid];
    if (seq === undefined) return;
    if (this.ackedBy && ack.run !== this.ackedBy.run) {
      const n = this.sender.forget();
      if (n) this.log.warn("a new run: letting go of messages the last run's HQ never acknowledged", { messages: n, run: this.ackedBy.run });
    } else if (this.ackedBy && ack.hq !== this.ackedBy.hq) {
      const n = this.sender.resend(seq);
      this.log.warn('the HQ restarted: sending again what it had not stored', { messages: n, fromSeq: seq + 1 });
    }
    this.ackedBy = { hq: ack.hq, run: ack.run };
    this.sender.ack(seq);
  }

  private start(): void {
    const { config, clock } = this.opts;
    const volley: Volley = { stopping: false, startedAt: clock.monotonic(), pendingStarts: [], canons: [], running: 0, stopRequested: () => volley.stopping };
    this.volley = volley;
    this.state = 'running';
    this.sendStatus();
    if (this.plan) {
      this.startPlanned(volley, this.plan);
      return;
    }
    this.log.info('start', { canons: config.canons, rampup: config.rampup });
    rampupSchedule(config.canons, config.rampup).forEach((offset, index) => {
      const fire = () => volley.canons.push(this.runOneCanon(volley, index));
      if (offset === 0) fire();
      else volley.pendingStarts.push(setTimeout(fire, offset));
    });
  }

  private startPlanned(volley: Volley, plan: TurretPlan): void {
    const { config, clock } = this.opts;
    this.log.info('start', { plan: plan.planId, model: plan.model });
    this.planned = new PlannedVolley(
      plan,
      {
        clock,
        log: this.log,
        canonDeps: (index, stopRequested) => this.canonDeps(volley, index, stopRequested),
        maxCanonsCap: config.max_canons ?? MAX_CANONS_LIMIT,
        hasRoom: () => this.sender.hasRoom(),
        emitLoad: (r) => this.sender.enqueue(encodeLoadReport({ uuid: this.uuid, turret: config.name, ...r })),
        fail: (err, index) => void this.abort(this.canonFailure(err, index)),
      },
      anchorPlan(plan, clock, this.log),
    );
  }

  /** Why the turret aborts when a canon's constructor throws or its loop crashes. */
  private canonFailure(err: unknown, index: number): string {
    return err instanceof CanonConstructionError
      ? `script ${this.opts.config.script}: ${err.message}`
      : `canon ${index} crashed: ${(err as Error)?.stack ?? String(err)}`;
  }

  // Per canon only the object itself: its functions are the turret's, made once (see CanonContext).
  private readonly record = (row: ResultRow) => this.batcher.add(row);
  private readonly rowOf = (index: number) => this.rows?.[index];
  private readonly hasRoom = () => this.sender.hasRoom();
  private readonly waitForRoom = () => this.sender.waitForRoom();
  private readonly newSession = () => this.connector.session();
  private turretRef: { name: string; uuid: string } | null = null;

  /** ctx.ws connections a script left open: closed as a browser closes a page's (1001, going away). */
  private closeWebSockets(): void {
    for (const socket of this.webSockets) socket.close(1001, 'the turret stopped');
    this.webSockets.clear();
  }

  private canonDeps(volley: Volley, index: number, stopRequested: () => boolean): CanonDeps {
    this.turretRef ??= { name: this.opts.config.name, uuid: this.uuid };
    return {
      index,
      Transaction: this.Transaction!,
      turret: this.turretRef,
      data: this.data,
      dispatcher: this.agent ?? undefined,
      clock: this.opts.clock,
      log: this.opts.log,
      startedAt: volley.startedAt,
      record: this.record,
      metrics: this.batcher,
      http: this.httpOptions,
      transport: this.opts.config.http.client === 'oct' ? this.newSession : undefined,
      webSockets: this.webSockets,
      tls: this.opts.tls,
      row: this.rowOf,
      stopRequested,
      hasRoom: this.hasRoom,
      waitForRoom: this.waitForRoom,
    };
  }

  private async runOneCanon(volley: Volley, index: number): Promise<void> {
    if (volley.stopping) return;
    const deps = this.canonDeps(volley, index, volley.stopRequested);
    volley.running++;
    try {
      const tx = buildTransaction(deps);
      await runCanon(deps, tx);
    } catch (err) {
      void this.abort(this.canonFailure(err, index));
    } finally {
      volley.running--;
    }
  }

  /** Stops the canons after their in-flight iteration, flushes, goes back to ready. */
  private stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const volley = this.volley;
    if (!volley) return Promise.resolve();
    this.stopping = (async () => {
      volley.stopping = true;
      // A plan belongs to one run; the next run's plan, if any, comes with its start.
      this.plan = null;
      for (const t of volley.pendingStarts) clearTimeout(t);
      this.state = 'stopping';
      // Said at once, so the HQ re-plans this turret's share onto the others while it drains.
      this.sendStatus();
      const timeoutMs = this.opts.stopTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const planned = this.planned;
      const finished = await Promise.race([
        planned?.stop().then(() => true) ??
          // Canons started by the rampup while we wait are caught by the re-check in the loop.
          (async () => {
            let n = -1;
            while (n !== volley.canons.length) {
              n = volley.canons.length;
              await Promise.all(volley.canons);
            }
            return true;
          })(),
        new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      if (!finished) this.log.warn('stop: canons still in an iteration after the timeout; leaving them', { timeoutMs, running: volley.running });
      this.closeWebSockets();
      this.batcher.flush();
      this.volley = null;
      this.planned = null;
      this.state = 'ready';
      this.stopping = null;
      this.log.info('stopped', { results: this.batcher.resultsRecorded, lastSeq: this.batcher.lastSeq });
    })();
    return this.stopping.then(() => {
      if (this.exiting) return;
      this.sendStatus();
      if (this.startAfterStop) {
        this.startAfterStop = false;
        this.start();
      }
    });
  }

  private abort(reason: string): Promise<number> {
    this.log.error('aborted', { reason });
    return this.exit(ExitCode.TEST_NOT_RUN, 'aborted', reason);
  }

  private exit(code: number, finalState: State, reason: string): Promise<number> {
    if (this.exiting) return this.exiting;
    this.exiting = (async () => {
      if (this.heartbeat) clearInterval(this.heartbeat);
      await this.stop();
      this.batcher.flush();
      this.state = finalState;
      this.sendStatus(reason);
      const drained = await this.sender.drain(this.opts.drainTimeoutMs ?? 5000);
      if (!drained) this.log.warn('HQ unreachable: final messages may be lost', { queued: this.sender.queuedMessages });
      // Leaving before the HQ stored them would lose them if the HQ restarted now.
      else if (!(await this.sender.waitAcked(this.opts.drainTimeoutMs ?? 5000)))
        this.log.warn('the HQ did not acknowledge every message before exit', { unacknowledged: this.sender.unackedMessages });
      this.log.info('exit', { state: finalState, reason, lastSeq: this.batcher.lastSeq, results: this.batcher.resultsRecorded });
      this.health.close();
      this.connector.close();
      this.closeWebSockets();
      await this.agent?.close().catch(() => {});
      this.opts.sockets.sub.close();
      // linger lets messages already handed to ZeroMQ leave before the context is torn down.
      this.opts.sockets.push.close();
      this.resolveExit(code);
      return code;
    })();
    return this.exiting;
  }

  private beat(): void {
    // A heartbeat stuck behind a backlog says nothing new; one waiting status is enough.
    if (this.sender.queuedMessages > 1) return;
    this.sendStatus();
  }

  private sendStatus(reason?: string): void {
    const { config } = this.opts;
    this.sender.enqueue(
      encodeStatus({
        uuid: this.uuid,
        name: config.name,
        status: this.state,
        canons: config.canons,
        rampup: config.rampup,
        script: config.script,
        lastSeq: this.batcher.lastSeq,
        acked: this.sender.ackedSeq,
        canonsRunning: this.planned?.running ?? this.volley?.running ?? 0,
        planId: this.planned?.planId ?? this.plan?.planId,
        health: this.health.sample(),
        reason,
        heartbeatMs: config.heartbeat_ms,
      }),
    );
  }
}
