// CPU per iteration of the canon's hot path (runIteration → ctx.http.get → the per-second deltas),
// in one process against nginx, with the script features off, on, and on with a session cookie:
// CPU time resolves what the throughput ratio cannot on a shared, noisy machine. Also the time spent
// in garbage collection per variant (a PerformanceObserver on 'gc'): what a retained object per
// request costs shows there first. CLIENT=undici runs the canons on undici's Agent instead of the
// turret's own connections (the default, as in a turret).
//   node --import tsx bench/script-features-cpu.ts [ITERATIONS_PER_VARIANT] [ROUNDS]
import { systemClock } from '../common/clock.ts';
import { createLogger } from '../common/log.ts';
import { DeltaBuilder } from '../protocol/aggregate.ts';
import { buildTransaction, type CanonDeps, type CanonHttpOptions, runIteration } from '../turret/canon.ts';
import { PerformanceObserver } from 'node:perf_hooks';
import { Http1Connector } from '../turret/http1-client.ts';
import { createHttpAgent } from '../turret/undici-transport.ts';
import type { TransactionContext } from '../turret/script-api.ts';
import { startNginx } from './nginx.ts';

const perVariant = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 3);
const CANONS = 50;
// manual: a session carried by hand, as before the jar (the same Cookie header on every request).
const VARIANTS: Record<string, { http: CanonHttpOptions; cookie: boolean; manual?: boolean }> = {
  off: { http: { requestMetrics: false, cookies: false }, cookie: false },
  on: { http: {}, cookie: false },
  manual: { http: { requestMetrics: false, cookies: false }, cookie: false, manual: true },
  session: { http: {}, cookie: true },
};
const SID = 'sid=0123456789abcdef';

const nginx = await startNginx({ cpu: 0 });
const undici = process.env.CLIENT === 'undici';
const agent = undici ? createHttpAgent() : undefined;
const connector = new Http1Connector();
let gcMs = 0;
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });
const url = nginx.url;
/** CPU µs and GC µs per iteration of one variant. */
async function variant(name: string): Promise<{ cpu: number; gc: number }> {
  const v = VARIANTS[name]!;
  const deltas = new DeltaBuilder();
  const Transaction = class {
    customTimers: Record<string, number> = {};
    constructor(readonly ctx: TransactionContext) {
      if (v.cookie) ctx.cookies.set(`${SID}; Path=/`, url);
    }
    async run() {
      await this.ctx.http.get(url, v.manual ? { headers: { cookie: SID } } : undefined);
    }
  };
  let left = perVariant;
  const canon = async (index: number) => {
    const deps: CanonDeps = {
      index,
      Transaction,
      turret: { name: 'b', uuid: 'u' },
      data: {},
      dispatcher: agent,
      transport: undici ? undefined : () => connector.session(),
      clock: systemClock,
      log: createLogger(),
      startedAt: systemClock.monotonic(),
      record: (r) => deltas.record(r.elapsed, r.scriptrunTime, r.error, r.customTimers),
      metrics: deltas,
      stopRequested: () => false,
      waitForRoom: async () => {},
      http: v.http,
    };
    const tx = buildTransaction(deps);
    while (left-- > 0) await runIteration(deps, tx);
  };
  const c0 = process.cpuUsage();
  const gc0 = gcMs;
  await Promise.all(Array.from({ length: CANONS }, (_, i) => canon(i)));
  const c = process.cpuUsage(c0);
  // GC entries are delivered after the fact: give the observer a turn of the loop.
  await new Promise((r) => setImmediate(r));
  deltas.take();
  return { cpu: (c.user + c.system) / perVariant, gc: ((gcMs - gc0) * 1000) / perVariant };
}
try {
  await variant('off'); // warm-up
  const names = Object.keys(VARIANTS);
  const us: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const gc: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++)
    for (const name of r % 2 ? [...names].reverse() : names) {
      const x = await variant(name);
      us[name]!.push(x.cpu);
      gc[name]!.push(x.gc);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`client: ${undici ? 'undici' : 'oct'}`);
  console.log('| variant | CPU µs per iteration (median) | rounds | vs off | of which GC µs (median) |');
  console.log('|---|---|---|---|---|');
  for (const [name, xs] of Object.entries(us))
    console.log(
      `| ${name} | ${median(xs).toFixed(2)} | ${xs.map((x) => x.toFixed(1)).join(', ')} | ${((median(xs) / median(us.off!) - 1) * 100).toFixed(1)}% | ${median(gc[name]!).toFixed(2)} |`,
    );
} finally {
  gcObserver.disconnect();
  connector.close();
  await agent?.close();
  await nginx.stop();
}
