// Per-second accounting of a planned turret: iterations started and dropped, schedule lag (actual −
// intended start) and event-loop delay, by second of plan time. A second is reported once it is
// over; the counters sent with it are cumulative, so the HQ's totals survive a lost report.
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoadReport } from '../protocol/load-report.ts';

interface Second {
  started: number;
  dropped: number;
  lags: number[];
  /** Canons running when last sampled in this second. */
  canons?: number;
}

export interface LoadMeterOptions {
  /** Monotonic ms of plan time 0. */
  monoAtT0: number;
  /** Plan time → the target to report for that second (iterations, or canons). */
  targetOf(second: number): number;
  canons(): number;
  planId(): number;
  emit(report: Omit<LoadReport, 'uuid' | 'turret'>): void;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
// monitorEventLoopDelay records the whole interval between its timer's runs, so an idle loop reads
// about the resolution itself: the delay is what lies beyond it.
const LOOP_RESOLUTION_MS = 10;
const REPORT_GRACE_SECONDS = 1;

export class LoadMeter {
  private readonly seconds = new Map<number, Second>();
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private reported = -1;
  startedTotal = 0;
  droppedTotal = 0;

  constructor(private readonly opts: LoadMeterOptions) {
    this.loop.enable();
  }

  secondOf(mono: number): number {
    return Math.floor((mono - this.opts.monoAtT0) / 1000);
  }

  private at(second: number): Second {
    let s = this.seconds.get(second);
    if (!s) this.seconds.set(second, (s = { started: 0, dropped: 0, lags: [] }));
    return s;
  }

  started(intendedMono: number, actualMono: number): void {
    const s = this.at(Math.max(this.reported + 1, this.secondOf(intendedMono)));
    s.started++;
    s.lags.push(Math.max(0, actualMono - intendedMono));
    this.startedTotal++;
  }

  dropped(intendedMono: number, count = 1): void {
    this.at(Math.max(this.reported + 1, this.secondOf(intendedMono))).dropped += count;
    this.droppedTotal += count;
  }

  /** Reports the seconds that ended more than a second before `nowMono` (all of them when `final`). */
  flush(nowMono: number, final = false): void {
    const current = this.secondOf(nowMono);
    // Sampled while the second runs: at a final flush the canons are already stopping.
    if (!final && current > this.reported) this.at(current).canons = this.opts.canons();
    // The second the run stopped in is reported only if something happened in it.
    // A second is reported one second after it ends, so iterations that start late (a busy loop)
    // still count in the second they were due in.
    const last = final ? Math.max(current - 1, ...this.seconds.keys()) : current - 1 - REPORT_GRACE_SECONDS;
    if (last <= this.reported) return;
    const loopDelay = this.loop.count > 0 ? Math.max(0, this.loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) : 0;
    this.loop.reset();
    for (let sec = Math.max(0, this.reported + 1); sec <= last; sec++) {
      const s = this.seconds.get(sec) ?? { started: 0, dropped: 0, lags: [] };
      this.seconds.delete(sec);
      const lags = s.lags.sort((a, b) => a - b);
      this.opts.emit({
        planId: this.opts.planId(),
        second: sec,
        target: round3(this.opts.targetOf(sec)),
        started: s.started,
        dropped: s.dropped,
        lagP99Ms: round3(lags.length ? lags[Math.min(lags.length - 1, Math.ceil(lags.length * 0.99) - 1)]! : 0),
        lagMaxMs: round3(lags.length ? lags[lags.length - 1]! : 0),
        loopDelayP99Ms: round3(loopDelay),
        canons: s.canons ?? this.opts.canons(),
        startedTotal: this.startedTotal,
        droppedTotal: this.droppedTotal,
      });
    }
    this.reported = last;
  }

  close(): void {
    this.loop.disable();
  }
}
