// A real Prometheus for tests: the Debian binary in the foreground, a temp config scraping the given
// targets every second, a temp TSDB, a random 127.0.0.1 port. Tests query it over its HTTP API.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.ts';
import { missingTools } from './system-tools.ts';

export const PROMETHEUS_BIN = process.env.OCT_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface TestPrometheus {
  url: string;
  /** Instant query; returns the result vector. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Polls `promql` until `accept` returns true for its first value, or the timeout passes. */
  waitFor(promql: string, accept: (value: number) => boolean, timeoutMs?: number): Promise<number | null>;
  stop(): Promise<void>;
}

export async function startPrometheus(targets: string[], opts: { metricsPath?: string; scrapeInterval?: string } = {}): Promise<TestPrometheus> {
  const missing = missingTools([{ bin: PROMETHEUS_BIN, pkg: 'prometheus' }]);
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'oct-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      `  scrape_interval: ${opts.scrapeInterval ?? '1s'}`,
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: oct',
      `    metrics_path: ${opts.metricsPath ?? '/metrics'}`,
      `    scrape_timeout: ${opts.scrapeInterval ?? '900ms'}`,
      '    static_configs:',
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let stderr = '';
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited early (${child.exitCode}): ${stderr}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 10 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const query: TestPrometheus['query'] = async (promql) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
    if (body.status !== 'success') throw new Error(`PromQL ${promql}: ${body.error}`);
    return body.data.result;
  };
  const waitFor: TestPrometheus['waitFor'] = async (promql, accept, timeoutMs = 20_000) => {
    const until = Date.now() + timeoutMs;
    let last: number | null = null;
    while (Date.now() < until) {
      const r = await query(promql);
      if (r.length) {
        last = Number(r[0]!.value[1]);
        if (accept(last)) return last;
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    return last;
  };
  return { url, query, waitFor, stop };
}
