// The narrow interface through which the HQ reports what happens to its metrics. The HQ depends on
// this, not on prom-client, so the ingest loop can be tested with a no-op and metrics can change
// without touching the HQ. hq/metrics.ts implements it.
import type { MalformedKind, TurretHealth, TurretState } from '../protocol/incoming.ts';
import type { ResultBatch } from '../protocol/results.ts';
import type { Aggregator } from './aggregator.ts';
import type { RunState } from '../store/types.ts';

export interface WriterStats {
  /** Rows waiting in memory for the store writer. */
  queuedRows: number;
  /** Rows currently in the spill file (the store fell behind). */
  spilledRows: number;
  /** Rows written to the store since the HQ started (cumulative). */
  writtenRows: number;
  /** Rows in the write currently running. */
  inFlightRows: number;
  /** Age of the oldest row not yet written, seconds (0 when the queue is empty). */
  lagSeconds: number;
  /** Failed store writes since the HQ started (cumulative; they were retried or spilled). */
  failedWrites: number;
}

export interface HqMetricsHooks {
  /** The run's statistics engine, read at scrape time (counts, latency histograms, rates). */
  attach?(stats: Aggregator): void;
  /** Called once per accepted message with result rows (after the duplicate check), on the socket loop. */
  observeBatch(batch: ResultBatch, turretName: string | null): void;
  malformed(kind: MalformedKind): void;
  /** A results batch whose seq was already seen (not counted again). */
  duplicate(): void;
  setRunState(state: RunState, elapsedSeconds: number): void;
  setTurrets(byState: Record<TurretState, number>, canonsRunning: number): void;
  setWriter(stats: WriterStats): void;
  turretHealth(name: string, uuid: string, health: TurretHealth): void;
  /** Results the HQ could not keep; must stay 0 (a non-zero value is a bug to report). */
  dropped(n: number): void;
  /** Optional: one aggregate message accepted (counted in oct_messages_received_total). */
  aggregateReceived?(): void;
  /** Optional: one status message received (counted in oct_messages_received_total). */
  statusReceived?(): void;
  /** Optional: a well-formed message refused because its sender may not speak for it (CURVE). */
  rejected?(reason: RejectReason): void;
  /** Optional: a connection refused at the ZeroMQ handshake (no key, an untrusted key: CURVE). */
  rejectedHandshake?(socket: HandshakeSocket, reason: HandshakeFailure): void;
}

export const REJECT_REASONS = ['identity'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];
export const HANDSHAKE_SOCKETS = ['results', 'orders'] as const;
export type HandshakeSocket = (typeof HANDSHAKE_SOCKETS)[number];
/** auth: the ZAP handler refused the key; protocol: no CURVE (a plaintext client) or a broken handshake. */
export const HANDSHAKE_FAILURES = ['auth', 'protocol', 'other'] as const;
export type HandshakeFailure = (typeof HANDSHAKE_FAILURES)[number];

/** For tests and for an HQ run without metrics. */
export const noMetrics: HqMetricsHooks = {
  observeBatch() {},
  malformed() {},
  duplicate() {},
  setRunState() {},
  setTurrets() {},
  setWriter() {},
  turretHealth() {},
  dropped() {},
};
