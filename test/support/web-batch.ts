// Realistic result batches for metrics tests: web-like latencies, some errors, custom timers.
import { type ResultBatch, ResultBatchBuilder } from '../../protocol/results.ts';

export function webBatch(opts: { n: number; turret: string | null; seq?: number; timers?: string[]; errorEvery?: number; seed?: number }): ResultBatch {
  const b = new ResultBatchBuilder();
  let x = opts.seed ?? 1;
  const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < opts.n; i++) {
    const v = 0.005 + rnd() * rnd() * 0.8;
    const customTimers: Record<string, number> = {};
    for (const t of opts.timers ?? []) customTimers[t] = v * 0.5;
    const failed = opts.errorEvery !== undefined && i % opts.errorEvery === 0;
    b.add({ elapsed: i / 100, epoch: 1.7e9 + i / 100, scriptrunTime: v, error: failed ? 'HTTP 503' : null, customTimers });
  }
  return b.build({ turretUuid: null, turretName: opts.turret, seq: opts.seq ?? null });
}
