// A known-answer target for latency tests: an HTTP server on 127.0.0.1 that answers at once, except
// during a stall of `stallMs` starting `offsetMs` into every `periodMs`, counted from the first
// request it receives (so a run of whole periods meets exactly one stall per period), when it holds
// every request until the stall ends. Under an open model at a constant rate, the latency from the
// intended start of a request sent `x` ms into a stall is `stallMs − x`, so the distribution, and
// every percentile, follows from the stall pattern alone (coStallPercentile).
import { createServer, type Server } from 'node:http';

export interface StallServer {
  url: string;
  requests(): number;
  close(): Promise<void>;
}

export async function startStallServer(opts: { stallMs: number; periodMs: number; offsetMs?: number }): Promise<StallServer> {
  let origin: number | null = null;
  let requests = 0;
  const offset = opts.offsetMs ?? 0;
  const server: Server = createServer((req, res) => {
    requests++;
    origin ??= performance.now();
    const phase = (((performance.now() - origin - offset) % opts.periodMs) + opts.periodMs) % opts.periodMs;
    const hold = phase < opts.stallMs && performance.now() - origin >= offset ? opts.stallMs - phase : 0;
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    };
    req.resume();
    if (hold > 0) setTimeout(answer, hold);
    else answer();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The q-quantile (0..1) of the latency from intended start for requests sent at a constant rate
 * against this server, ignoring the server's own answer time: a fraction f = stall/period of the
 * requests wait uniformly between 0 and the stall, the rest wait nothing.
 */
export function coStallPercentile(q: number, opts: { stallMs: number; periodMs: number }): number {
  const f = opts.stallMs / opts.periodMs;
  const tail = 1 - q;
  if (tail >= f) return 0;
  return opts.stallMs * (1 - tail / f);
}
