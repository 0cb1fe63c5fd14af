// Generated results for report tests and the report benchmark, stored through the store itself
// (writeResults, the COPY the HQ's writer uses too), so no test needs to know the schema.
import { type ResultBatch, ResultBatchBuilder } from '../../protocol/results.ts';
import type { RunState, Store } from '../../store/types.ts';

export interface GenResult {
  turretUuid: string | null;
  turretName: string | null;
  elapsed: number;
  epoch: number;
  scriptrunTime: number;
  error: string | null;
  customTimers: Record<string, number> | null;
}

/** The rows as batches, one per stretch of consecutive rows of one turret: stored, they keep their order. */
export function resultBatches(rows: Iterable<GenResult>): ResultBatch[] {
  const batches: ResultBatch[] = [];
  let builder: ResultBatchBuilder | null = null;
  let turret: { turretUuid: string | null; turretName: string | null } | null = null;
  const flush = () => {
    if (builder && turret) batches.push(builder.build({ ...turret, seq: null }));
  };
  for (const r of rows) {
    if (!turret || turret.turretUuid !== r.turretUuid || turret.turretName !== r.turretName) {
      flush();
      builder = new ResultBatchBuilder();
      turret = { turretUuid: r.turretUuid, turretName: r.turretName };
    }
    builder!.add({ elapsed: r.elapsed, epoch: r.epoch, scriptrunTime: r.scriptrunTime, error: r.error, customTimers: r.customTimers ?? {} });
  }
  flush();
  return batches;
}

export async function insertResults(store: Pick<Store, 'writeResults'>, runId: number, rows: GenResult[]): Promise<void> {
  const chunk = 50_000;
  for (let i = 0; i < rows.length; i += chunk) await store.writeResults(runId, resultBatches(rows.slice(i, i + chunk)));
}

/** A run as the report finds one: finished by default, started and ended when given. */
export async function insertRun(store: Store, input: { name?: string; state?: RunState; config: unknown; startedAt?: Date; endedAt?: Date }): Promise<number> {
  const run = await store.createRun({ name: input.name ?? 'test', config: input.config, hqId: null });
  await store.updateRun(run.id, { state: input.state ?? 'finished', startedAt: input.startedAt, endedAt: input.endedAt });
  return run.id;
}
