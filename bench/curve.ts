// What CURVE costs: the HQ ingest benchmark (bench/hq-ingest.ts: 2 senders pushing binary batches of
// 2,000 results at full speed into the real HQ and a Postgres server) with CURVE off and on, in
// turns (off, on, off, on…) in one process, so both see the same machine. CURVE adds encryption
// in libzmq's I/O threads and, per message, the identity check (a map lookup and a compare) on
// the HQ and a string splice on the sender; batches are large, so the cost per result is small.
// Run alone: node --import tsx bench/curve.ts [--rounds 2] [--seconds 3] [--senders 2] [--simple-sink]
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { benchHqIngest, type HqIngestResult } from './hq-ingest.ts';

export interface CurveBenchResult {
  rounds: number;
  off: HqIngestResult[];
  on: HqIngestResult[];
}

export async function benchCurve(
  opts: { rounds?: number; seconds?: number; senders?: number; simpleSink?: boolean; databaseUrl?: string } = {},
): Promise<CurveBenchResult> {
  const rounds = opts.rounds ?? 2;
  const off: HqIngestResult[] = [];
  const on: HqIngestResult[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const curve of [false, true]) {
      const r = await benchHqIngest({
        senders: opts.senders ?? 2,
        seconds: opts.seconds ?? 3,
        simpleSink: opts.simpleSink,
        databaseUrl: opts.databaseUrl,
        curve,
      });
      if (r.lost !== 0) throw new Error(`CURVE ${curve ? 'on' : 'off'}: ${r.lost} results lost`);
      (curve ? on : off).push(r);
    }
  }
  return { rounds, off, on };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export function formatCurve(r: CurveBenchResult): string {
  const k = (n: number) => `${Math.round(n / 1000)}k/s`;
  const row = (what: string, pick: (x: HqIngestResult) => number) => {
    const off = median(r.off.map(pick));
    const on = median(r.on.map(pick));
    return `  ${what.padEnd(34)} ${k(off).padStart(9)} ${k(on).padStart(9)}   ${(on / off).toFixed(3)}`;
  };
  return [
    `CURVE cost: HQ ingest with CURVE off and on, ${r.rounds} rounds each in turns, medians (${r.off[0]!.senders} senders × batches of ${r.off[0]!.batchSize}, ${r.off[0]!.runSeconds} s)`,
    `  ${''.padEnd(34)} ${'off'.padStart(9)} ${'on'.padStart(9)}   on/off`,
    row('HQ received (while sending)', (x) => x.receivedPerSecond),
    row('stored (start → last row)', (x) => x.storedPerSecond),
    row('senders pushed (turret side)', (x) => x.sentPerSecond),
    `  lost: ${[...r.off, ...r.on].reduce((n, x) => n + x.lost, 0)}`,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await benchCurve({
    rounds: arg('rounds', 2),
    seconds: arg('seconds', 3),
    senders: arg('senders', 2),
    simpleSink: process.argv.includes('--simple-sink'),
  });
  console.log(formatCurve(r));
}
