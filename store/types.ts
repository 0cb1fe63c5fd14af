// The one storage interface the HQ, the report and the CLI use. Two backends implement it: a
// Postgres server through `pg`, and the embedded PGlite that `oct run` uses when no server is
// configured. Both run the same SQL (store/schema.ts).
import type { TurretState } from '../protocol/incoming.ts';
import type { EncodedHistogram } from '../protocol/histogram.ts';
import type { ResultBatch } from '../protocol/results.ts';

export type { RunState } from '../protocol/incoming.ts';
import type { RunState } from '../protocol/incoming.ts';

export interface RunInfo {
  id: number;
  name: string;
  state: RunState;
  config: unknown;
  hqId: string | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  error: string | null;
  summary: unknown;
}

export interface RunPatch {
  state?: RunState;
  startedAt?: Date;
  endedAt?: Date;
  error?: string | null;
  summary?: unknown;
}

export interface TurretRecord {
  uuid: string;
  name: string;
  canons: number | null;
  rampup: number | null;
  script: string | null;
  state: TurretState;
  firstSeen: Date;
  lastSeen: Date;
}

export interface StatusChange {
  uuid: string;
  name: string;
  state: TurretState;
  rawStatus: string;
  reason: string | null;
  at: Date;
}

/** One histogram delta of one series, one second of one turret's test time (protocol/aggregate.ts). */
export interface AggregateRow {
  second: number;
  turretUuid: string | null;
  turretName: string | null;
  series: string;
  /** Values of the series recorded by failed transactions. */
  errors: number;
  hist: EncodedHistogram;
  /** Requests only: responses per status, bytes sent and received (protocol/series-names.ts). */
  counters?: Record<string, number>;
}

/** Failed transactions with one message in one second of one turret. */
export interface ErrorCountRow {
  second: number;
  turretUuid: string | null;
  turretName: string | null;
  message: string;
  count: number;
}

/** One numbered message of an oct turret, stored (docs/protocol.md, "Acknowledged delivery"). */
export interface DeliveredSeq {
  uuid: string;
  seq: number;
}

/** One action taken on a running test (hq/run-control.ts): stored with the run, listed in the report. */
export interface ControlAction {
  at: Date;
  /** Seconds since the test started. */
  elapsed: number;
  action: 'stop' | 'target';
  /** Who said they acted (the request's `by`), else "anonymous". */
  by: string;
  /** Where the request came from (its peer address). */
  origin: string;
  /** What changed, e.g. {from: 10, to: 40, model: "open"} or {reason: "…"}. */
  detail: Record<string, unknown>;
}

/** Plain SQL access, the same over both backends; report queries are written against it. */
export interface SqlDriver {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Streams COPY text-format rows (`sql` is a `COPY ... FROM STDIN` statement). */
  copyFrom(sql: string, text: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A COPY of results kept open while the caller feeds it batches: nothing of it is stored until
 * end() resolves, and then all of it is.
 */
export interface ResultsCopy {
  /** Sends the batches' rows (each batch says which turret it came from); resolves once the copy can take more. */
  write(batches: ResultBatch[]): Promise<void>;
  /** Ends the COPY; resolves once its rows, and the record of the messages they came in, are committed. */
  end(delivered?: DeliveredSeq[]): Promise<void>;
  /** Gives up on the COPY: none of its rows are stored. */
  abort(reason: Error): void;
}

export interface Store {
  readonly kind: 'postgres' | 'embedded';
  /** Where the data lives, for messages: a URL without password, or a directory. */
  readonly location: string;
  readonly sql: SqlDriver;
  migrate(): Promise<void>;
  createRun(input: { name: string; config: unknown; hqId: string | null }): Promise<RunInfo>;
  getRun(id: number): Promise<RunInfo | null>;
  listRuns(): Promise<RunInfo[]>;
  /** The newest run of that name not yet finished or failed: what a restarted HQ resumes. */
  findUnfinishedRun(name: string): Promise<RunInfo | null>;
  updateRun(id: number, patch: RunPatch): Promise<void>;
  /** Writes the batches in one COPY; returns the number of rows written. */
  writeResults(runId: number, batches: ResultBatch[]): Promise<number>;
  /** A COPY of the run's results to feed batch by batch and commit at once (the ResultWriter's path). */
  openResultsCopy(runId: number): Promise<ResultsCopy>;
  /**
   * Appends aggregate deltas (several rows may share a key: they add up) in one transaction.
   * Cost grows with the rows given, never with the results they stand for.
   */
  writeAggregates(runId: number, rows: AggregateRow[], errors: ErrorCountRow[], delivered?: DeliveredSeq[]): Promise<void>;
  /** The run's stored messages (what a restarted HQ must not take twice). */
  readDelivered(runId: number): Promise<DeliveredSeq[]>;
  /** Every aggregate delta of a run, as written (not merged), ordered by second. */
  readAggregates(runId: number): Promise<{ rows: AggregateRow[]; errors: ErrorCountRow[] }>;
  upsertTurret(runId: number, turret: TurretRecord): Promise<void>;
  recordStatusChange(runId: number, change: StatusChange): Promise<void>;
  /** The run's turrets, by first seen. */
  listTurrets(runId: number): Promise<TurretRecord[]>;
  recordControlAction(runId: number, action: ControlAction): Promise<void>;
  /** The run's control actions, in the order they were taken. */
  listControlActions(runId: number): Promise<ControlAction[]>;
  saveArtifact(runId: number, name: string, content: Buffer): Promise<void>;
  getArtifact(runId: number, name: string): Promise<Buffer | null>;
  close(): Promise<void>;
}
