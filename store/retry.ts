// One backoff for every write to the store (result COPYs, aggregates, run state): a store that
// is away for a while is retried with growing pauses, never hammered and never given up on early.

/** Pause before retry number `attempt` (1 = the first retry): doubles from minMs to maxMs, ±25% jitter. */
export function backoffMs(attempt: number, minMs = 100, maxMs = 5_000): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(0, attempt - 1), 20));
  return base * (0.75 + Math.random() * 0.5);
}

/**
 * Runs `write` until it succeeds or `deadline` (ms, on `now`'s clock) passes; then rethrows the
 * last error. `onRetry` hears the first failure and every tenth, for the log.
 */
export async function retryUntil<T>(
  write: () => Promise<T>,
  opts: { deadline: number; now: () => number; onRetry?: (err: Error, attempt: number) => void },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const left = opts.deadline - opts.now();
      if (left <= 0) throw err;
      if (attempt === 1 || attempt % 10 === 0) opts.onRetry?.(err as Error, attempt);
      await new Promise((r) => setTimeout(r, Math.min(left, backoffMs(attempt))));
    }
  }
}
