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
import { type Order, parseOrder } from '../protocol/orders.ts';
import { encodeStatus, type StatusFields } from '../protocol/status.ts';
import { Batcher } from './batcher.ts';
import { buildTransaction, CanonConstructionError, type CanonDeps, runCanon } from './canon.ts';
import { HealthSampler } from './health.ts';
import { anchorPlan, PlannedVolley } from './planned-load.ts';
import { createHttpAgent, warmUpHttp } from './http-client.ts';
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
}

interface Volley {
  stopping: boolean;
  startedAt: number;
  pendingStarts: NodeJS.Timeout[];
  canons: Promise<void>[];
  running: number;
}

export class Turret {
  private state: State = 'ready';
  private readonly data: Record<string, unknown> = {};
  private readonly sender: Sender;
  private readonly batcher: Batcher;
  private readonly health = new HealthSampler();
  private readonly agent: Agent = createHttpAgent();
  private readonly log: Logger;
  private Transaction: TransactionClass | null = null;
  private volley: Volley | null = null;
  /** The HQ's latest plan for this turret; with one, `start` follows it instead of canons/rampup. */
  private plan: TurretPlan | null = null;
  private planned: PlannedVolley | null = null;
  private stopping: Promise<void> | null = null;
  private startAfterStop = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private exiting: Promise<number> | null = null;
  private resolveExit!: (code: number) => void;
  private readonly exited = new Promise<number>((r) => (this.resolveExit = r));

  constructor(private readonly opts: TurretOptions) {
    this.log = opts.log.child('turret');
    this.sender = new Sender(opts.sockets.push, this.log.child('sender'), opts.maxBufferedResults ?? 200_000);
    this.batcher = new Batcher(
      this.sender,
      { uuid: opts.uuid, turret: opts.config.name },
      { maxResults: opts.config.batch_max_results, maxMs: opts.config.batch_max_ms },
    );
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
    await warmUpHttp().catch((err) => this.log.debug('HTTP warm-up failed', { error: err as Error }));
    this.log.info('waiting for the HQ', { hq: `${config.hq_address}:${config.hq_publisher}/${config.hq_rc}` });
    void this.receiveOrders();
    await Promise.race([this.opts.sockets.subConnected, this.exited]);
    if (this.exiting) return this.exited;
    this.sendStatus();
    this.log.info('ready', { uuid: this.uuid, canons: config.canons, rampup: config.rampup });
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

  private start(): void {
    const { config, clock } = this.opts;
    const volley: Volley = { stopping: false, startedAt: clock.monotonic(), pendingStarts: [], canons: [], running: 0 };
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

  private canonDeps(volley: Volley, index: number, stopRequested: () => boolean): CanonDeps {
    return {
      index,
      Transaction: this.Transaction!,
      turret: { name: this.opts.config.name, uuid: this.uuid },
      data: this.data,
      dispatcher: this.agent,
      clock: this.opts.clock,
      log: this.opts.log.child(`canon.${index}`),
      startedAt: volley.startedAt,
      record: (row) => this.batcher.add(row),
      stopRequested,
      hasRoom: () => this.sender.hasRoom(),
      waitForRoom: () => this.sender.waitForRoom(),
    };
  }

  private async runOneCanon(volley: Volley, index: number): Promise<void> {
    if (volley.stopping) return;
    const deps = this.canonDeps(volley, index, () => volley.stopping);
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
      this.log.info('exit', { state: finalState, reason, lastSeq: this.batcher.lastSeq, results: this.batcher.resultsRecorded });
      this.health.close();
      await this.agent.close().catch(() => {});
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
        canonsRunning: this.planned?.running ?? this.volley?.running ?? 0,
        planId: this.planned?.planId ?? this.plan?.planId,
        health: this.health.sample(),
        reason,
        heartbeatMs: config.heartbeat_ms,
      }),
    );
  }
}
