// The fast path with the script features on and off, side by side: one turret, 50 canons, one GET
// per iteration against nginx, as turret/autocannon ratios (bench/generators.ts), each round
// running autocannon and then every variant on the same core, so they see the same machine noise.
//   off:     http.request_metrics and http.cookies false (the turret before per-request series)
//   on:      the defaults: a series per request, a cookie jar per canon (nginx sets no cookie)
//   session: the defaults, and every canon holds a cookie, so each request asks the jar (RFC 6265 match)
// node --import tsx bench/script-features.ts [SECONDS] [ROUNDS]
import { startNginx } from './nginx.ts';
import { autocannon, type TurretVariant, turret } from './generators.ts';

const VARIANTS: Record<string, TurretVariant> = {
  off: { http: { request_metrics: false, cookies: false } },
  on: {},
  session: { constructorBody: ` ctx.cookies.set('sid=0123456789abcdef; Path=/', 'http://127.0.0.1/'); ` },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const seconds = Number(process.argv[2] ?? 4);
const rounds = Number(process.argv[3] ?? 2);
const nginx = await startNginx({ cpu: 0 });
try {
  const ratios: Record<string, number[]> = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]));
  const rps: Record<string, number[]> = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]));
  for (let i = 0; i < rounds; i++) {
    const ac = (await autocannon(nginx.url, seconds, '1')).rps;
    // Alternate the order per round, so neither side always runs first after autocannon.
    const names = i % 2 ? Object.keys(VARIANTS).reverse() : Object.keys(VARIANTS);
    for (const name of names) {
      const t = await turret(nginx.url, seconds, { variant: VARIANTS[name] });
      if (t.errors) throw new Error(`${name}: ${t.errors} errors`);
      rps[name]!.push(t.rps);
      ratios[name]!.push(t.rps / ac);
    }
    console.error(`round ${i + 1}: autocannon ${ac.toFixed(0)}/s, ${names.map((n) => `${n} ${rps[n]!.at(-1)!.toFixed(0)}/s`).join(', ')}`);
  }
  console.log(`| variant | turret/autocannon (median of ${rounds}) | per round | turret req/s | vs off |`);
  console.log('|---|---|---|---|---|');
  const off = median(ratios.off!);
  for (const name of Object.keys(VARIANTS)) {
    const r = median(ratios[name]!);
    console.log(
      `| ${name} | ${(r * 100).toFixed(1)}% | ${ratios[name]!.map((x) => x.toFixed(3)).join(', ')} | ${median(rps[name]!).toFixed(0)} | ${((r / off - 1) * 100).toFixed(1)}% |`,
    );
  }
} finally {
  await nginx.stop();
}
