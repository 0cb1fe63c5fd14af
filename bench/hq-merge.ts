// HQ merge rate: how many results per second one HQ takes in when oct turrets send per-second
// aggregates instead of rows. A real HQ (Hq.bind on 127.0.0.1, random ports, results_storage
// "none", the aggregates written to the store) and N simulated oct turrets in 2 child processes,
// each turret its own ZeroMQ PUSH socket: an oct status, then once a second (phases spread over
// the second) one aggregate message carrying the tail of the previous second and the head of the
// current one, as a turret's 1-s flush timer cuts them, for "All transactions" + 3 custom timers
// + errors by message. The histograms are drawn from the latency model of
// bench/report-aggregates.ts at the represented rate, so they have as many buckets as real ones.
// Measured in the HQ process alone, over the steady seconds of the run: represented results/s
// merged, CPU (process.cpuUsage: JS thread, ZeroMQ I/O thread, PGlite's worker), event-loop
// utilisation and delay p99, messages/s and bytes per turret on the wire. Peer, same harness, same
// run: the raw-row path of today — bench/hq-ingest-sender.ts processes pushing binary batches at
// full speed, the HQ counting every row itself (DeltaBuilder.recordBatch; rows not stored).
// Run alone: node --import tsx bench/hq-merge.ts [--turrets 100] [--rate 100000] [--seconds 10]
//   [--url postgres://…] (default: the embedded store) [--no-raw] [--raw-seconds 5]
// (profile the HQ: node --cpu-prof --import tsx bench/hq-merge.ts …)
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as zmq from 'zeromq';
import { createLogger } from '../common/log.ts';
import { Hq } from '../hq/hq.ts';
import { AGGREGATE_VERSION, DeltaBuilder } from '../protocol/aggregate.ts';
import { encodeBinaryBatch } from '../protocol/binary-batch.ts';
import { parseProjectConfig } from '../protocol/config.ts';
import { HISTOGRAM_PRECISION } from '../protocol/histogram.ts';
import { parseOrder } from '../protocol/orders.ts';
import { ALL_TRANSACTIONS_SERIES, ResultBatchBuilder } from '../protocol/results.ts';
import { encodeStatus } from '../protocol/status.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { mulberry32 } from '../test/support/random.ts';
import {
  binomial,
  drift,
  errorSplit,
  LOGIN_TIMER_MODEL,
  type LatencyModel,
  PART_TIMER_MODEL,
  RUN_TIME_MODEL,
  sample,
  scaled,
  splitHistogram,
  syntheticHistogram,
} from './report-aggregates.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

/** The simulated turrets' custom timers (with "All transactions": 4 series). */
const TIMERS: [string, LatencyModel][] = [
  ['Example_Timer', PART_TIMER_MODEL],
  ['Login', LOGIN_TIMER_MODEL],
  ['Checkout', scaled(RUN_TIME_MODEL, 1.5)],
];

// ---------------------------------------------------------------------------------------------
// The measurement, shared by both paths: samples at every progress call, figures over the steady
// part (from `settle` seconds after the start to the stop).

interface Sample {
  mono: number;
  cpu: NodeJS.CpuUsage;
  elu: ReturnType<typeof performance.eventLoopUtilization>;
  transactions: number;
}

export interface HqWindow {
  seconds: number;
  transactions: number;
  /** Cores the HQ process used (all its threads), over the window. */
  cpuCores: number;
  /** Share of the window the HQ's JS thread was busy. */
  elu: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  resultsPerSecond: number;
}

// The histogram holds whole timer intervals: the resolution is subtracted to give the delay.
const DELAY_RESOLUTION_MS = 10;

class HqProbe {
  private readonly samples: Sample[] = [];
  private readonly delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
  private runningFrom: number | null = null;
  private stoppedAt: number | null = null;
  private delayFrom: number | null = null;
  constructor(private readonly settleSeconds: number) {}

  onProgress(state: string, transactions: number): void {
    const mono = performance.now();
    if (state === 'running' && this.runningFrom === null) this.runningFrom = mono;
    if (state !== 'running' || this.stoppedAt !== null) {
      if (this.runningFrom !== null && this.stoppedAt === null) {
        this.stoppedAt = mono;
        this.delay.disable();
      }
      return;
    }
    this.samples.push({ mono, cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), transactions });
    if (this.delayFrom === null && mono - this.runningFrom! >= this.settleSeconds * 1000) {
      this.delayFrom = mono;
      this.delay.reset();
      this.delay.enable();
    }
  }

  window(): HqWindow {
    const from = this.samples.find((s) => s.mono - this.runningFrom! >= this.settleSeconds * 1000);
    const to = this.samples[this.samples.length - 1];
    if (!from || !to || to === from) throw new Error('the run was too short to measure a steady window');
    const seconds = (to.mono - from.mono) / 1000;
    const cpu = (to.cpu.user - from.cpu.user + to.cpu.system - from.cpu.system) / 1e6;
    const transactions = to.transactions - from.transactions;
    return {
      seconds,
      transactions,
      cpuCores: cpu / seconds,
      elu: performance.eventLoopUtilization(to.elu, from.elu).utilization,
      loopDelayP99Ms: Math.max(0, this.delay.percentile(99) / 1e6 - DELAY_RESOLUTION_MS),
      loopDelayMaxMs: Math.max(0, this.delay.max / 1e6 - DELAY_RESOLUTION_MS),
      resultsPerSecond: transactions / seconds,
    };
  }
}

interface SenderReport {
  turrets: number;
  messages: number;
  bytes: number;
  results: number;
  /** Seconds from start to stop, as the sender saw them. */
  seconds: number;
  /** Sends that found the turret's previous message still in its socket (a full queue). */
  skipped?: number;
}

function spawnSender(args: string[]): Promise<SenderReport> {
  const c = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  let out = '';
  c.stdout!.on('data', (d) => (out += d));
  return new Promise((res, rej) =>
    c.on('exit', (code) => (code === 0 ? res(JSON.parse(out.trim().split('\n').pop()!) as SenderReport) : rej(new Error(`sender exited ${code}: ${out}`)))),
  );
}

async function runHq(opts: {
  store: Store;
  turrets: number;
  seconds: number;
  settleSeconds: number;
  spawnSenders: (endpoints: { publishPort: number; resultsPort: number }) => Promise<SenderReport>[];
}): Promise<{
  window: HqWindow;
  senders: SenderReport;
  transactions: number;
  state: string;
  error: string | null;
  runId: number;
  drainSeconds: number;
  missing: number;
  duplicates: number;
  malformed: number;
}> {
  const log = createLogger({ level: 'warn', component: 'bench' });
  const probe = new HqProbe(opts.settleSeconds);
  const spill = mkdtempSync(join(tmpdir(), 'oct-bench-merge-spill-'));
  let stopMono = 0;
  try {
    const hq = await Hq.bind({
      config: parseProjectConfig({
        publish_port: 0,
        rc_port: 0,
        min_turrets: opts.turrets,
        run_time: opts.seconds,
        stop_grace: 15,
        turrets_wait_timeout: 60,
        turret_silence_timeout: 20,
        results_storage: 'none',
      }),
      store: opts.store,
      runName: `bench-merge-${Date.now()}`,
      log,
      bindHost: '127.0.0.1',
      spillDir: spill,
      drainTimeoutMs: 60_000,
      onProgress: (p) => {
        if (p.state === 'draining' && !stopMono) stopMono = performance.now();
        probe.onProgress(p.state, p.transactions);
      },
    });
    const reports = opts.spawnSenders(hq.endpoints);
    const outcome = await hq.run();
    const end = performance.now();
    const sent = await Promise.all(reports);
    await hq.close();
    const senders = sent.reduce((a, r) => ({
      turrets: a.turrets + r.turrets,
      messages: a.messages + r.messages,
      bytes: a.bytes + r.bytes,
      results: a.results + r.results,
      seconds: Math.max(a.seconds, r.seconds),
      skipped: (a.skipped ?? 0) + (r.skipped ?? 0),
    }));
    const malformed = Object.values(outcome.malformed).reduce((a, b) => a + b, 0);
    return {
      window: probe.window(),
      senders,
      transactions: outcome.transactions,
      state: outcome.state,
      error: outcome.error,
      runId: outcome.runId,
      drainSeconds: (end - stopMono) / 1000,
      missing: outcome.missingBatches,
      duplicates: outcome.duplicates,
      malformed,
    };
  } finally {
    rmSync(spill, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Per-unit costs measured in-process, for docs/scale.md.

/** Turret side: ns per transaction of DeltaBuilder.record (3 timers) and, the peer, of ResultBatchBuilder.add. */
function turretSideCosts(): { recordNs: number; batchAddNs: number } {
  const rnd = mulberry32(5);
  const n = 400_000;
  const rows = Array.from({ length: n }, (_, i) => {
    const v = sample(RUN_TIME_MODEL, rnd);
    return {
      elapsed: i / 10_000,
      epoch: 1.7e9 + i / 10_000,
      scriptrunTime: v,
      error: i % 100 === 0 ? 'HTTP 500' : null,
      customTimers: { Example_Timer: v * 0.6, Login: sample(LOGIN_TIMER_MODEL, rnd), Checkout: v * 1.5 },
    };
  });
  const time = (fn: () => void) => {
    fn(); // warm-up
    const t = performance.now();
    fn();
    return ((performance.now() - t) * 1e6) / n;
  };
  const recordNs = time(() => {
    const d = new DeltaBuilder();
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      d.record(r.elapsed, r.scriptrunTime, r.error, r.customTimers);
      if (i % 10_000 === 9_999) d.take();
    }
  });
  const batchAddNs = time(() => {
    let b = new ResultBatchBuilder();
    for (let i = 0; i < n; i++) {
      b.add(rows[i]!);
      if (b.count === 2000) {
        b.build({ turretUuid: 'u', turretName: 't', seq: 1 });
        b = new ResultBatchBuilder();
      }
    }
  });
  return { recordNs, batchAddNs };
}

/** Bytes per result of a binary results batch with the same 3 timers and 1% errors (what raw rows cost on the wire). */
function rawBytesPerResult(): number {
  const rnd = mulberry32(6);
  const b = new ResultBatchBuilder();
  for (let i = 0; i < 2000; i++) {
    const v = sample(RUN_TIME_MODEL, rnd);
    b.add({
      elapsed: i / 1000,
      epoch: 1.7e9,
      scriptrunTime: v,
      error: i % 100 === 0 ? 'HTTP 500' : null,
      customTimers: { Example_Timer: v * 0.6, Login: 0.004, Checkout: v * 1.5 },
    });
  }
  const [header, payload] = encodeBinaryBatch(b.build({ turretUuid: 'u', turretName: 't', seq: 1 }), { uuid: randomUUID(), turret: 'turret-0', seq: 1 });
  return (Buffer.byteLength(header) + payload.length) / 2000;
}

// ---------------------------------------------------------------------------------------------

export interface HqMergeResult {
  store: 'embedded' | 'postgres';
  turrets: number;
  ratePerTurret: number;
  series: number;
  merge: {
    window: HqWindow;
    represented: number;
    merged: number;
    lost: number;
    state: string;
    messagesPerSecond: number;
    bytesPerTurretPerSecond: number;
    bytesPerMessage: number;
    /** HQ CPU seconds per turret-second of deltas (one aggregate message a second, 4 series). */
    cpuPerTurretSecondMs: number;
    skippedSends: number;
    aggregateRows: number;
    aggregateRowsPerSecond: number;
    errorRows: number;
    tableBytes: number;
    drainSeconds: number;
    malformed: number;
    missing: number;
  };
  raw: null | {
    window: HqWindow;
    sent: number;
    merged: number;
    senders: number;
    batchSize: number;
    messagesPerSecond: number;
    bytesPerSenderPerSecond: number;
    cpuPerMillionResultsS: number;
  };
  turretSide: { recordNs: number; batchAddNs: number };
  rawBytesPerResult: number;
}

export async function benchHqMerge(
  opts: {
    turrets?: number;
    rate?: number;
    seconds?: number;
    url?: string;
    raw?: boolean;
    rawSeconds?: number;
    senders?: number;
    log?: (l: string) => void;
  } = {},
): Promise<HqMergeResult> {
  const turrets = opts.turrets ?? 100;
  const rate = opts.rate ?? 100_000;
  const seconds = opts.seconds ?? 10;
  const senders = opts.senders ?? 2;
  const say = opts.log ?? (() => undefined);
  const dir = opts.url ? null : mkdtempSync(join(tmpdir(), 'oct-bench-merge-db-'));
  const log = createLogger({ level: 'warn', component: 'bench' });
  const store = await openStore(opts.url ? { databaseUrl: opts.url, log } : { embeddedDir: join(dir!, 'db'), log });
  try {
    const per = Math.ceil(turrets / senders);
    say(`  merge: ${turrets} simulated turrets × ${rate.toLocaleString('en-US')}/s, ${seconds} s, ${store.kind} store`);
    const m = await runHq({
      store,
      turrets,
      seconds,
      settleSeconds: 2,
      spawnSenders: (e) =>
        Array.from({ length: senders }, (_, i) => {
          const first = i * per;
          const count = Math.min(per, turrets - first);
          return spawnSender([
            SELF,
            '--sender',
            String(e.publishPort),
            String(e.resultsPort),
            String(first),
            String(count),
            String(rate),
            String(seconds + 30),
          ]);
        }),
    });
    const [counts] = await store.sql.query<{ rows: string; errs: string; bytes: string }>(
      `SELECT (SELECT count(*) FROM aggregates WHERE run_id = $1)::text AS rows,
              (SELECT count(*) FROM error_counts WHERE run_id = $1)::text AS errs,
              (pg_total_relation_size('aggregates') + pg_total_relation_size('error_counts'))::text AS bytes`,
      [m.runId],
    );
    const sendSeconds = m.senders.seconds;
    const merge: HqMergeResult['merge'] = {
      window: m.window,
      represented: m.senders.results,
      merged: m.transactions,
      lost: m.senders.results - m.transactions,
      state: m.error ? `${m.state}: ${m.error}` : m.state,
      messagesPerSecond: m.senders.messages / sendSeconds,
      bytesPerTurretPerSecond: m.senders.bytes / turrets / sendSeconds,
      bytesPerMessage: m.senders.bytes / m.senders.messages,
      cpuPerTurretSecondMs: (m.window.cpuCores * 1000) / turrets,
      skippedSends: m.senders.skipped ?? 0,
      aggregateRows: Number(counts!.rows),
      aggregateRowsPerSecond: Number(counts!.rows) / sendSeconds,
      errorRows: Number(counts!.errs),
      tableBytes: Number(counts!.bytes),
      drainSeconds: m.drainSeconds,
      malformed: m.malformed,
      missing: m.missing,
    };
    say(`  merge: ${Math.round(m.window.resultsPerSecond).toLocaleString('en-US')} represented results/s, HQ ${m.window.cpuCores.toFixed(2)} cores`);
    let raw: HqMergeResult['raw'] = null;
    if (opts.raw ?? true) {
      const rawSeconds = opts.rawSeconds ?? 5;
      const batchSize = 2000;
      say(`  raw rows: 2 hq-ingest-sender processes, binary batches of ${batchSize}, ${rawSeconds} s`);
      const r = await runHq({
        store,
        turrets: 2,
        seconds: rawSeconds,
        settleSeconds: 1,
        spawnSenders: (e) =>
          Array.from({ length: 2 }, (_, i) =>
            spawnSender([join(ROOT, 'bench', 'hq-ingest-sender.ts'), String(e.publishPort), String(e.resultsPort), `sender-${i}`, String(batchSize)]).then(
              (x) => ({ ...x, turrets: 1, messages: (x as unknown as { batches: number }).batches, bytes: 0 }),
            ),
          ),
      });
      // hq-ingest-sender does not count bytes: every batch is the same one.
      const rowBytes = binaryBatchBytes(batchSize);
      raw = {
        window: r.window,
        sent: r.senders.results,
        merged: r.transactions,
        senders: 2,
        batchSize,
        messagesPerSecond: r.senders.messages / r.senders.seconds,
        bytesPerSenderPerSecond: (r.senders.messages * rowBytes) / 2 / r.senders.seconds,
        cpuPerMillionResultsS: (r.window.cpuCores / r.window.resultsPerSecond) * 1e6,
      };
      say(`  raw rows: ${Math.round(r.window.resultsPerSecond).toLocaleString('en-US')} results/s, HQ ${r.window.cpuCores.toFixed(2)} cores`);
    }
    return {
      store: store.kind,
      turrets,
      ratePerTurret: rate,
      series: 1 + TIMERS.length,
      merge,
      raw,
      turretSide: turretSideCosts(),
      rawBytesPerResult: rawBytesPerResult(),
    };
  } finally {
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** The bytes of bench/hq-ingest-sender.ts's batch (trivial results, no timers, one error text). */
function binaryBatchBytes(batchSize: number): number {
  const b = new ResultBatchBuilder();
  for (let i = 0; i < batchSize; i++)
    b.add({ elapsed: i / 1000, epoch: 1.7e9, scriptrunTime: 0.001, error: i % 100 === 0 ? 'HTTP 500' : null, customTimers: {} });
  const uuid = randomUUID();
  const [, payload] = encodeBinaryBatch(b.build({ turretUuid: uuid, turretName: 'sender-0', seq: 0 }), { uuid, turret: 'sender-0', seq: 0 });
  const header = `{"oct":1,"type":"results","encoding":"f64le-columns","uuid":"${uuid}","turret":"sender-0","seq":1,"count":${batchSize},"timers":[],"errors":["HTTP 500"]}`;
  return Buffer.byteLength(header) + payload.length;
}

const k = (n: number) => Math.round(n).toLocaleString('en-US');

export function formatHqMerge(r: HqMergeResult): string {
  const m = r.merge;
  const w = m.window;
  const lines = [
    `HQ merge, ${r.store} store: ${r.turrets} simulated oct turrets × ${k(r.ratePerTurret)} results/s represented, ${r.series} series + errors, steady window ${w.seconds.toFixed(1)} s`,
    '',
    '| path | results/s taken in | HQ CPU (cores) | HQ JS thread busy | event-loop delay p99 (max) | messages/s | bytes/s per turret (per message) | HQ CPU per unit |',
    '|---|---|---|---|---|---|---|---|',
    `| aggregates (${r.turrets} turrets) | **${k(w.resultsPerSecond)}** represented | ${w.cpuCores.toFixed(2)} | ${(w.elu * 100).toFixed(0)}% | ${w.loopDelayP99Ms.toFixed(1)} ms (${w.loopDelayMaxMs.toFixed(0)} ms) | ${k(m.messagesPerSecond)} | ${k(m.bytesPerTurretPerSecond)} (${k(m.bytesPerMessage)}) | ${m.cpuPerTurretSecondMs.toFixed(2)} ms per turret-second |`,
  ];
  if (r.raw) {
    const x = r.raw.window;
    lines.push(
      `| raw rows (${r.raw.senders} senders, batches of ${r.raw.batchSize}, not stored) | **${k(x.resultsPerSecond)}** | ${x.cpuCores.toFixed(2)} | ${(x.elu * 100).toFixed(0)}% | ${x.loopDelayP99Ms.toFixed(1)} ms (${x.loopDelayMaxMs.toFixed(0)} ms) | ${k(r.raw.messagesPerSecond)} | ${k(r.raw.bytesPerSenderPerSecond)} per sender | ${r.raw.cpuPerMillionResultsS.toFixed(2)} s per 1M results |`,
    );
  }
  lines.push(
    '',
    `merge: represented ${k(m.represented)}, merged ${k(m.merged)}, lost ${m.lost}; run ${m.state}; malformed ${m.malformed}, missing ${m.missing}; sends skipped (socket busy) ${m.skippedSends}; drain ${m.drainSeconds.toFixed(1)} s`,
    `store: ${k(m.aggregateRows)} aggregate rows (${k(m.aggregateRowsPerSecond)}/s) + ${k(m.errorRows)} error rows; aggregates + error_counts tables now ${(m.tableBytes / 1e6).toFixed(1)} MB`,
    `turret side, per transaction with 3 timers: DeltaBuilder.record ${r.turretSide.recordNs.toFixed(0)} ns; ResultBatchBuilder.add ${r.turretSide.batchAddNs.toFixed(0)} ns`,
    `raw rows with the same 3 timers on the wire: ${r.rawBytesPerResult.toFixed(1)} bytes per result (${k(r.rawBytesPerResult * r.ratePerTurret)} bytes/s for one turret at ${k(r.ratePerTurret)}/s)`,
  );
  if (r.raw) lines.push(`raw rows: sent ${k(r.raw.sent)}, counted ${k(r.raw.merged)}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// One sender process: `count` simulated oct turrets.

async function sender(args: string[]): Promise<void> {
  const [publishPort, resultsPort, firstArg, countArg, rateArg, maxSecondsArg] = args;
  const first = Number(firstArg);
  const count = Number(countArg);
  const rate = Number(rateArg);
  const maxSeconds = Number(maxSecondsArg);
  const rnd = mulberry32(1000 + first);

  // A pool of seconds, each split into its head and tail piece, pre-serialised per series: the
  // sender's own cost must stay small next to the HQ's.
  const VARIANTS = 8;
  type Piece = { series: string; errors: string; n: number };
  const pool: [Piece, Piece][] = [];
  for (let v = 0; v < VARIANTS; v++) {
    const f = drift(v % 4, v * 75, rnd);
    const errs = errorSplit(rate, rnd);
    const head = errs.map(([m, c]) => [m, binomial(c, 0.5, rnd)] as [string, number]).filter(([, c]) => c > 0);
    const tail = errs.map(([m, c]) => [m, c - (head.find(([h]) => h === m)?.[1] ?? 0)] as [string, number]).filter(([, c]) => c > 0);
    const failed = [head.reduce((a, [, c]) => a + c, 0), tail.reduce((a, [, c]) => a + c, 0)];
    const models: [string, LatencyModel][] = [[ALL_TRANSACTIONS_SERIES, RUN_TIME_MODEL], ...TIMERS];
    const split = models.map(([name, model]) => [name, splitHistogram(syntheticHistogram(rate, scaled(model, f), rnd), 0.5, rnd)] as const);
    const piece = (p: 0 | 1): Piece => ({
      series: split.map(([name, halves]) => JSON.stringify({ name, e: Math.min(failed[p]!, halves[p].n), ...halves[p] })).join(','),
      errors: JSON.stringify(p === 0 ? head : tail),
      n: split[0]![1][p].n,
    });
    pool.push([piece(0), piece(1)]);
  }

  const sub = new zmq.Subscriber();
  sub.subscribe('');
  sub.connect(`tcp://127.0.0.1:${publishPort}`);
  const turrets = Array.from({ length: count }, (_, i) => ({
    uuid: randomUUID(),
    name: `sim-${first + i}`,
    push: new zmq.Push({ sendHighWaterMark: 1000, linger: 30_000 }),
    seq: 0,
    sent: 0,
    busy: false,
    /** Index into the pool of the second whose tail goes out next. */
    prev: -1,
  }));
  for (const t of turrets) t.push.connect(`tcp://127.0.0.1:${resultsPort}`);

  // Set by the order loop: a cast, so that the checks below are not narrowed to the initial value.
  let state = 'ready' as 'ready' | 'running' | 'stopping';
  void (async () => {
    for await (const [frame] of sub) {
      const o = parseOrder(frame!);
      if (!o.ok) continue;
      if (o.order.command === 'start' && state === 'ready') state = 'running';
      if (o.order.command === 'stop' && state === 'running') state = 'stopping';
    }
  })().catch(() => undefined);

  let messages = 0;
  let bytes = 0;
  let results = 0;
  let skipped = 0;
  const send = async (t: (typeof turrets)[number], frame: string, isStatus: boolean) => {
    t.busy = true;
    try {
      await t.push.send(frame);
    } finally {
      t.busy = false;
    }
    if (!isStatus) {
      messages++;
      bytes += Buffer.byteLength(frame);
    }
  };
  const status = (t: (typeof turrets)[number], s: 'ready' | 'running') =>
    send(
      t,
      encodeStatus({ uuid: t.uuid, name: t.name, status: s, canons: 50, rampup: 0, script: 'sim', lastSeq: t.seq, canonsRunning: s === 'running' ? 50 : 0 }),
      true,
    );

  const deadline = performance.now() + maxSeconds * 1000;
  while (state === 'ready' && performance.now() < deadline) {
    await Promise.all(turrets.map((t) => status(t, 'ready')));
    await new Promise((r) => setTimeout(r, 300));
  }
  await Promise.all(turrets.map((t) => status(t, 'running')));
  const t0 = performance.now();
  const header = (t: (typeof turrets)[number]) =>
    `{"oct":1,"type":"aggregate","v":${AGGREGATE_VERSION},"precision":${HISTOGRAM_PRECISION},"uuid":"${t.uuid}","turret":"${t.name}","seq":${t.seq},"seconds":[`;
  const second = (s: number, p: Piece) => `{"s":${s},"series":[${p.series}],"errors":${p.errors}}`;
  // Turret i sends at i/count of every second: message k carries second k-1's tail and second k's head.
  let lastBeat = t0;
  while (state === 'running' && performance.now() < deadline) {
    const now = performance.now();
    for (let i = 0; i < count; i++) {
      const t = turrets[i]!;
      const due = t0 + (i / count) * 1000 + t.sent * 1000;
      if (now < due) continue;
      if (t.busy) {
        skipped++;
        continue;
      }
      const k = t.sent++;
      const cur = Math.floor(rnd() * VARIANTS);
      t.seq++;
      const parts: string[] = [];
      let n = 0;
      if (t.prev >= 0) {
        parts.push(second(k - 1, pool[t.prev]![1]));
        n += pool[t.prev]![1].n;
      }
      parts.push(second(k, pool[cur]![0]));
      n += pool[cur]![0].n;
      t.prev = cur;
      results += n;
      void send(t, `${header(t)}${parts.join(',')}]}`, false);
    }
    if (now - lastBeat > 2000) {
      lastBeat = now;
      for (const t of turrets) if (!t.busy) void status(t, 'running');
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  // The last second's tail, then a final status naming the last seq, as a stopping turret does.
  while (turrets.some((t) => t.busy)) await new Promise((r) => setTimeout(r, 5));
  await Promise.all(
    turrets.map(async (t) => {
      if (t.prev >= 0) {
        t.seq++;
        results += pool[t.prev]![1].n;
        await send(t, `${header(t)}${second(t.sent - 1, pool[t.prev]![1])}]}`, false);
      }
      await status(t, 'ready');
    }),
  );
  process.stdout.write(`${JSON.stringify({ turrets: count, messages, bytes, results, seconds, skipped })}\n`);
  sub.close();
  for (const t of turrets) t.push.close();
}

const arg = (name: string, dflt?: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

if (process.argv[1] && SELF === resolve(process.argv[1])) {
  const i = process.argv.indexOf('--sender');
  if (i > 0) {
    await sender(process.argv.slice(i + 1));
  } else {
    const urlArg = process.argv.indexOf('--url');
    const r = await benchHqMerge({
      turrets: arg('turrets'),
      rate: arg('rate'),
      seconds: arg('seconds'),
      rawSeconds: arg('raw-seconds'),
      senders: arg('senders'),
      url: urlArg > 0 ? process.argv[urlArg + 1] : undefined,
      raw: !process.argv.includes('--no-raw'),
      log: (l) => console.log(l),
    });
    console.log(JSON.stringify(r));
    console.log(formatHqMerge(r));
    process.exit(0);
  }
}
