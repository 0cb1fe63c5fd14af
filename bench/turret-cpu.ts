// The turret's CPU per transaction, beside its rate against autocannon, in bench/generators.ts's
// layout (nginx and the HQ on core 0, autocannon then the turret on core 1, 50 connections and
// canons). CPU per transaction is what an A/B of two trees can resolve on a noisy shared machine,
// where the throughput ratio cannot. OCT_TREE picks the tree whose bin/oct.js runs (default: this
// one), so bench/turret-ab.sh can run the same harness against an older commit; STORAGE the
// HQ's results_storage (default none: every result pre-aggregated, no rows).
//   node --import tsx bench/turret-cpu.ts            # ROUNDS (3) and SECONDS_PER_RUN (8) optional
import { join } from 'node:path';
import { autocannon, turret } from './generators.ts';
import { startNginx } from './nginx.ts';

const ROOT = process.env.OCT_TREE ?? join(import.meta.dirname, '..');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rounds = Number(process.env.ROUNDS ?? 3);
const seconds = Number(process.env.SECONDS_PER_RUN ?? 8);
const resultsStorage = (process.env.STORAGE ?? 'none') as 'none' | 'all';
const nginx = await startNginx({ cpu: 0 });
const out: unknown[] = [];
const ratios: number[] = [];
const us: number[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    const ac = await autocannon(nginx.url, seconds, '1');
    const t = await turret(nginx.url, seconds, { oct: join(ROOT, 'bin', 'oct.js'), resultsStorage });
    ratios.push(t.rps / ac.rps);
    us.push(t.usPerRequest);
    out.push({ autocannon: ac, turret: t });
  }
} finally {
  await nginx.stop();
}
console.log(JSON.stringify({ tree: ROOT, resultsStorage, rounds: out, ratio: median(ratios), ratios, usPerTx: median(us), usPerTxRounds: us }));
