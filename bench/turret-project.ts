// The project the turret benchmarks run: one script GETting one URL, an HQ config on free ports and
// the turret's config beside it (bench/generators.ts, bench/turret-cpu.ts, bench/script-features.ts). The HQ runs
// --hq-only, which asks for CURVE; these benches measure the generator over loopback, so they opt
// out (CURVE's own cost is bench/curve.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './nginx.ts';

export interface GetProject {
  url: string;
  canons: number;
  seconds: number;
  /** Lines run in the script's constructor. */
  constructorBody?: string;
  /** Lines run in run() before the GET (work of the script's own, e.g. CPU). */
  runBody?: string;
  /** The turret config's http settings. */
  http?: Record<string, unknown>;
  /** The HQ's results_storage (default: the config's default, every row stored). */
  resultsStorage?: 'all' | 'errors' | 'none';
  /** Turret processes the HQ waits for (a turret started with --workers N is N of them). */
  minTurrets?: number;
}

/** Writes the project into `dir`; returns the turret config's path and the HQ's http port. */
export async function writeGetProject(dir: string, p: GetProject): Promise<{ turretConfig: string; httpPort: number }> {
  mkdirSync(join(dir, 'scripts'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(
    join(dir, 'scripts', 'get.ts'),
    `import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {${p.constructorBody ?? ''}}
  async run() {${p.runBody ?? ''} await this.ctx.http.get(${JSON.stringify(p.url)}); }
}
`,
  );
  const [pub, rc, http] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      run_time: p.seconds,
      results_ts_interval: 1,
      progress_bar: false,
      publish_port: pub,
      rc_port: rc,
      http_port: http,
      min_turrets: p.minTurrets ?? 1,
      allow_plaintext: true,
      ...(p.resultsStorage ? { results_storage: p.resultsStorage } : {}),
      turrets: [{ name: 'bench', canons: p.canons, rampup: 0, script: 'scripts/get.ts' }],
    }),
  );
  const turret = join(dir, 'turret.json');
  writeFileSync(
    turret,
    JSON.stringify({
      name: 'bench',
      canons: p.canons,
      rampup: 0,
      script: 'scripts/get.ts',
      hq_address: '127.0.0.1',
      hq_publisher: pub,
      hq_rc: rc,
      ...(p.http ? { http: p.http } : {}),
    }),
  );
  return { turretConfig: turret, httpPort: http };
}
