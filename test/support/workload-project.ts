// A throwaway project for workload tests: config.json on free ports, one script, and helpers to run
// it with the real `oct` binary and read what the run left behind (summary.json, the stored rows).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../common/log.ts';
import { generateKeys, writeKeysDir } from '../../common/keys-dir.ts';
import { openStore } from '../../store/open.ts';
import { freePort } from './processes.ts';

export interface WorkloadProject {
  dir: string;
  results: string;
  ports: { publish: number; rc: number; http: number };
  summary(): Summary;
  storedRows(): Promise<number>;
}

/** The parts of summary.json these tests read. */
export interface Summary {
  verdict: string;
  totals: { transactions: number };
  series: Array<{ name: string; overall: { count: number; p50: number; p90: number; p99: number } }>;
  validity: { judged: boolean; valid: boolean; reasons: string[]; started: number; dropped: number };
  load: {
    seconds: Array<{ second: number; target: number; started: number; dropped: number; canons: number; lagP99Ms: number }>;
    turrets: Array<{ uuid: string; name: string; started: number; dropped: number }>;
    replans: Array<{ at: number; planId: number; turrets: number }>;
  } | null;
}

export async function workloadProject(config: Record<string, unknown>, script: string): Promise<WorkloadProject> {
  const dir = mkdtempSync(join(tmpdir(), 'oct-workload-'));
  const ports = { publish: await freePort(), rc: await freePort(), http: await freePort() };
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'v_user.ts'), script);
  // CURVE, as a real remote run has it (--hq-only binds every interface), unless the test opts out.
  const curve = config.allow_plaintext ? {} : { keys_dir: 'keys' };
  if (!config.allow_plaintext) writeKeysDir(join(dir, 'keys'), generateKeys());
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      results_ts_interval: 1,
      progress_bar: false,
      publish_port: ports.publish,
      rc_port: ports.rc,
      http_port: ports.http,
      turrets_wait_timeout: 60,
      ...curve,
      ...config,
    }),
  );
  const results = join(dir, 'results');
  return {
    dir,
    results,
    ports,
    summary: () => JSON.parse(readFileSync(join(results, 'summary.json'), 'utf8')) as Summary,
    async storedRows() {
      const store = await openStore({ embeddedDir: join(results, 'db'), log: createLogger() });
      try {
        const [row] = await store.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM results');
        return row!.n;
      } finally {
        await store.close();
      }
    },
  };
}

/** A script whose run() GETs the URL in the transaction context. */
export const GET_SCRIPT = `import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {}
  async run() { await this.ctx.http.get(String(this.ctx.data.url)); }
}
`;

export function turretConfigFile(p: WorkloadProject, name: string, extra: Record<string, unknown> = {}): string {
  const path = join(p.dir, `turret-${name}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      name,
      canons: 10,
      rampup: 0,
      script: 'v_user.ts',
      hq_address: '127.0.0.1',
      hq_publisher: p.ports.publish,
      hq_rc: p.ports.rc,
      ...(existsSync(join(p.dir, 'keys')) ? { keys_dir: 'keys' } : {}),
      ...extra,
    }),
  );
  return path;
}
