// The per-request work the script features add, alone and without I/O: the series of a request
// (DeltaBuilder.request) and the session's Cookie header (CookieSession.withCookies, a jar holding
// one cookie), in ns per request, next to a whole iteration's CPU (bench/script-features-cpu.ts).
//   node --import tsx bench/script-features-micro.ts
import { DeltaBuilder } from '../protocol/aggregate.ts';
import { CookieSession } from '../turret/cookies.ts';

const N = 2_000_000;
function time(name: string, f: (i: number) => void): void {
  for (let i = 0; i < 100_000; i++) f(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  console.log(`| ${name} | ${(Number(process.hrtime.bigint() - t0) / N).toFixed(0)} ns |`);
}
console.log('| per request | cost |');
console.log('|---|---|');
const deltas = new DeltaBuilder();
let elapsed = 0;
time('series of the request (DeltaBuilder.request)', (i) => {
  deltas.request((elapsed += 0.00003), 'GET /orders/:id', 0.0004 + (i % 100) * 1e-6, false, 200, 0, 512);
  if (i % 20_000 === 0) deltas.take();
});
const jar = new CookieSession();
const url = 'http://127.0.0.1:8080/orders/1';
time('cookie header, jar without cookies', () => jar.withCookies(undefined, url, 'http://127.0.0.1:8080', '/orders/1'));
jar.set('sid=0123456789abcdef; Path=/', 'http://127.0.0.1:8080/');
time('cookie header, jar holding a session cookie', () => jar.withCookies(undefined, url, 'http://127.0.0.1:8080', '/orders/1'));
