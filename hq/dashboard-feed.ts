// What the live dashboard shows, built once a second from the HQ's one statistics engine (the
// aggregator) and its registry — never from the database or raw results. A new browser gets the
// whole frame with the history; then one small update a second (one new point). The history is
// downsampled in place: past MAX_POINTS points, neighbours merge pairwise (counts add, latency
// percentiles keep the worse of the two), so an hour-long run with 100 turrets and 50 timers
// stays a few hundred points per series and the page never receives raw rows.
import type { ControlAction } from '../store/types.ts';
import type { IntervalFigures, LiveSnapshot } from './aggregator.ts';
import type { Progress } from './lifecycle.ts';
import type { TurretSummary } from './hq.ts';

export const MAX_POINTS = 720;
const TOP_ERRORS = 20;

/** What the feed reads; the HQ provides it (and tests a stand-in made of real aggregator parts). */
export interface DashboardSource {
  runId: number;
  runName: string;
  progress(): Progress;
  live(): LiveSnapshot;
  interval(): IntervalFigures[];
  errorsByMessage(limit: number): { message: string; count: number }[];
  turrets(): TurretSummary[];
  saturated(uuid: string): boolean;
  plannedTarget(): { model: 'open' | 'closed'; target: number } | null;
  latestLoad(): { second: number; started: number; dropped: number; lagP99Ms: number } | null;
  control(): readonly ControlAction[];
}

export interface SeriesHistory {
  /** Milliseconds; null where the series had no value in that point. */
  p50: (number | null)[];
  p95: (number | null)[];
  p99: (number | null)[];
  mean: (number | null)[];
}

export interface History {
  /** Seconds since the start, at each point's beginning, and how many seconds each point covers. */
  t: number[];
  w: number[];
  /** Transactions and errors per second over the point. */
  tps: number[];
  eps: number[];
  /** Planned target (canons, or iterations/s), and what was achieved (canons running, or transactions/s). */
  target: (number | null)[];
  achieved: (number | null)[];
  /** Worst turret's event-loop lag p99 (ms), CPU (cores), and the planned turrets' schedule lag p99 (ms). */
  loopMs: (number | null)[];
  cpu: (number | null)[];
  lagMs: (number | null)[];
  series: Record<string, SeriesHistory>;
}

export interface DashboardTurret {
  name: string;
  state: string;
  canons: number | null;
  canonsRunning: number | null;
  results: number;
  elu: number | null;
  cpu: number | null;
  loopMs: number | null;
  saturated: boolean;
}

export interface DashboardFrame {
  v: 1;
  run: { id: number; name: string; state: string; elapsed: number; runTime: number };
  totals: { transactions: number; errors: number; ratePerSecond: number; dropped: number; malformed: number };
  load: { model: 'open' | 'closed'; target: number } | null;
  /** Every series over the run so far: latencies in milliseconds. */
  series: { name: string; count: number; errors: number; mean: number; p50: number; p95: number; p99: number; max: number }[];
  errors: { message: string; count: number }[];
  turrets: DashboardTurret[];
  /** Names of the turrets saturated now: their results measure the generator, not the target. */
  saturated: string[];
  control: { at: string; elapsed: number; action: string; by: string; detail: Record<string, unknown> }[];
  /** The whole history (a new client, or after the history was coarsened), else absent. */
  history?: History;
  /** The point added by this update (absent in a full frame). */
  point?: { [K in Exclude<keyof History, 'series'>]: History[K][number] } & { series: Record<string, { p50: number; p95: number; p99: number; mean: number }> };
}

/** Four significant digits: enough for a chart, a third of the bytes of a full double. */
function r4(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return 0;
  return Number(v.toPrecision(4));
}
const ms = (s: number) => r4(s * 1000);
const maxOf = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

function emptyHistory(): History {
  return { t: [], w: [], tps: [], eps: [], target: [], achieved: [], loopMs: [], cpu: [], lagMs: [], series: {} };
}

export class DashboardFeed {
  private history = emptyHistory();
  private lastMono: number | null = null;
  private lastElapsed = 0;
  private lastTransactions = 0;
  private lastErrors = 0;

  constructor(
    private readonly source: DashboardSource,
    private readonly opts: { maxPoints?: number; monotonic: () => number },
  ) {
    source.interval(); // starts the aggregator's interval tracking
  }

  /** The frame a new client gets: current figures and the whole history. */
  full(): DashboardFrame {
    return { ...this.current(), history: this.history };
  }

  /**
   * Adds one point (what arrived since the previous tick) and returns the update to push: the
   * current figures and the new point, or the whole history when it was just coarsened.
   */
  tick(): DashboardFrame {
    const now = this.opts.monotonic();
    const p = this.source.progress();
    const seconds = this.lastMono === null ? 1 : Math.max(0.001, (now - this.lastMono) / 1000);
    this.lastMono = now;
    const frame = this.current(p);
    const h = this.history;
    const dt = frame.totals.transactions - this.lastTransactions;
    const de = frame.totals.errors - this.lastErrors;
    this.lastTransactions = frame.totals.transactions;
    this.lastErrors = frame.totals.errors;
    const intervals = this.source.interval();
    const turrets = frame.turrets;
    let loop: number | null = null;
    let cpu: number | null = null;
    for (const t of turrets) {
      loop = maxOf(loop, t.loopMs);
      cpu = maxOf(cpu, t.cpu);
    }
    const planned = frame.load;
    const load = this.source.latestLoad();
    const point: NonNullable<DashboardFrame['point']> = {
      t: r4(this.lastElapsed),
      w: r4(seconds),
      tps: r4(dt / seconds),
      eps: r4(de / seconds),
      target: planned ? r4(planned.target) : null,
      achieved: planned ? (planned.model === 'open' ? r4(dt / seconds) : p.canonsRunning) : null,
      loopMs: loop,
      cpu,
      lagMs: load ? r4(load.lagP99Ms) : null,
      series: {},
    };
    this.lastElapsed = p.elapsedSeconds;
    for (const f of intervals) point.series[f.name] = { p50: ms(f.p50), p95: ms(f.p95), p99: ms(f.p99), mean: ms(f.mean) };
    const coarsened = this.append(point);
    return coarsened ? { ...frame, history: h } : { ...frame, point };
  }

  private append(point: NonNullable<DashboardFrame['point']>): boolean {
    const h = this.history;
    const n = h.t.length;
    h.t.push(point.t);
    h.w.push(point.w);
    h.tps.push(point.tps);
    h.eps.push(point.eps);
    h.target.push(point.target);
    h.achieved.push(point.achieved);
    h.loopMs.push(point.loopMs);
    h.cpu.push(point.cpu);
    h.lagMs.push(point.lagMs);
    for (const name of new Set([...Object.keys(h.series), ...Object.keys(point.series)])) {
      let s = h.series[name];
      if (!s) h.series[name] = s = { p50: Array(n).fill(null), p95: Array(n).fill(null), p99: Array(n).fill(null), mean: Array(n).fill(null) };
      const v = point.series[name];
      s.p50.push(v?.p50 ?? null);
      s.p95.push(v?.p95 ?? null);
      s.p99.push(v?.p99 ?? null);
      s.mean.push(v?.mean ?? null);
    }
    if (h.t.length <= (this.opts.maxPoints ?? MAX_POINTS)) return false;
    this.history = coarsen(h);
    return true;
  }

  private current(p: Progress = this.source.progress()): DashboardFrame {
    const live = this.source.live();
    const turrets: DashboardTurret[] = [];
    const saturated: string[] = [];
    for (const t of this.source.turrets()) {
      const sat = this.source.saturated(t.uuid);
      if (sat) saturated.push(t.name);
      turrets.push({
        name: t.name,
        state: t.state,
        canons: t.canons,
        canonsRunning: t.canonsRunning,
        results: t.results,
        elu: t.health?.elu ?? null,
        cpu: t.health?.cpu ?? null,
        loopMs: t.health?.lagMs ?? null,
        saturated: sat,
      });
    }
    return {
      v: 1,
      run: { id: this.source.runId, name: this.source.runName, state: p.state, elapsed: r4(p.elapsedSeconds), runTime: p.runTime },
      totals: { transactions: p.transactions, errors: p.errors, ratePerSecond: r4(p.ratePerSecond), dropped: p.droppedIterations, malformed: p.malformed },
      load: this.source.plannedTarget(),
      series: live.series.map((s) => ({
        name: s.name,
        count: s.count,
        errors: s.errors,
        mean: ms(s.mean),
        p50: ms(s.p50),
        p95: ms(s.p95),
        p99: ms(s.p99),
        max: ms(s.max),
      })),
      errors: this.source.errorsByMessage(TOP_ERRORS),
      turrets,
      saturated,
      control: this.source.control().map((a) => ({ at: a.at.toISOString(), elapsed: a.elapsed, action: a.action, by: a.by, detail: a.detail })),
    };
  }
}

/** Merges neighbouring points pairwise: rates weighted by width, latencies and health the worse of two. */
export function coarsen(h: History): History {
  const out = emptyHistory();
  const names = Object.keys(h.series);
  for (const name of names) out.series[name] = { p50: [], p95: [], p99: [], mean: [] };
  for (let i = 0; i < h.t.length; i += 2) {
    const j = i + 1 < h.t.length ? i + 1 : i;
    const w = j === i ? h.w[i]! : h.w[i]! + h.w[j]!;
    const avg = (a: number[]) => (j === i ? a[i]! : r4((a[i]! * h.w[i]! + a[j]! * h.w[j]!) / w));
    const worst = (a: (number | null)[]) => (j === i ? a[i]! : maxOf(a[i]!, a[j]!));
    out.t.push(h.t[i]!);
    out.w.push(r4(w));
    out.tps.push(avg(h.tps));
    out.eps.push(avg(h.eps));
    out.target.push(worst(h.target));
    out.achieved.push(worst(h.achieved));
    out.loopMs.push(worst(h.loopMs));
    out.cpu.push(worst(h.cpu));
    out.lagMs.push(worst(h.lagMs));
    for (const name of names) {
      const s = h.series[name]!;
      const o = out.series[name]!;
      o.p50.push(worst(s.p50));
      o.p95.push(worst(s.p95));
      o.p99.push(worst(s.p99));
      o.mean.push(worst(s.mean));
    }
  }
  return out;
}
