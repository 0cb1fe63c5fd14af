// A user's first real script, end to end with the real `oct` binary: every canon logs in with its
// own row of the project's data file, keeps the session cookie, walks /orders/<id> URLs with checks
// on the responses, and logs out now and then. Two turrets start it, a third joins mid-run; the
// server in this test sees which account each virtual user used.
import assert from 'node:assert/strict';
import { generateKeys, writeKeysDir } from '../../common/keys-dir.ts';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, oct, startOct } from '../support/processes.ts';
import { until } from '../support/until.ts';

const JOURNEY = `import { BaseTransaction } from 'oct';

export class Transaction extends BaseTransaction {
  private loggedIn = false;
  private n = 0;

  async setup() {
    if (this.loggedIn) return;
    const { user, password } = this.ctx.row;
    const res = await this.ctx.http.post(this.ctx.data.base + '/login', {
      json: { user, password },
      headers: { 'x-canon': this.ctx.turret.uuid + '/' + this.ctx.canon },
    });
    this.loggedIn = this.ctx.check('login ok', res.status === 200);
  }

  async run() {
    const id = 1000 + Math.floor(Math.random() * 1e6);
    const res = await this.ctx.http.get(this.ctx.data.base + '/orders/' + id, { throwOnStatus: false });
    this.ctx.check('order ok', res.status === 200);
    if (res.status === 200) this.ctx.check('order is mine', res.body === 'order ' + id + ' of ' + this.ctx.row.user);
  }

  async tearDown() {
    if (++this.n % 25 === 0) {
      await this.ctx.http.post(this.ctx.data.base + '/logout');
      this.ctx.cookies.clear();
      this.loggedIn = false;
    }
  }
}
`;

interface Summary {
  checks: { name: string; passes: number; fails: number; passRate: number }[];
  requests: { name: string; count: number; failed: number; statuses: Record<string, number> }[];
  series: { name: string }[];
  thresholds: { passed: boolean; results: { key: string; passed: boolean; detail: string }[] };
  errors: { distinct: number };
}

test('login journey: a distinct account per canon over 2 turrets and a joiner, sessions kept, checks judged', { timeout: 150_000 }, async () => {
  const users = Array.from({ length: 12 }, (_, k) => ({ user: `user${k}`, password: `pw,"${k}"` }));
  const sessions = new Map<string, string>(); // token → user
  const loginsBy = new Map<string, Set<string>>(); // user → canons that logged in as it
  let unauthenticated = 0;
  // 1 order in 10 fails at random: the "order ok" check passes ~90% of the time.
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const token = /sid=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (url.pathname === '/login') {
        const { user, password } = JSON.parse(body) as { user: string; password: string };
        if (users.find((u) => u.user === user)?.password !== password) return void res.writeHead(403).end();
        const sid = randomBytes(8).toString('hex');
        sessions.set(sid, user);
        const set = loginsBy.get(user) ?? new Set();
        set.add(String(req.headers['x-canon']));
        loginsBy.set(user, set);
        res.writeHead(200, { 'set-cookie': `sid=${sid}; Path=/; HttpOnly` });
        return void res.end('welcome');
      }
      const user = token ? sessions.get(token) : undefined;
      if (!user) {
        unauthenticated++;
        return void res.writeHead(401).end();
      }
      if (url.pathname === '/logout') {
        sessions.delete(token!);
        return void res.end('bye');
      }
      if (Math.random() < 0.1) return void res.writeHead(500).end();
      res.end(`order ${url.pathname.split('/')[2]} of ${user}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dir = mkdtempSync(join(tmpdir(), 'oct-journey-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'journey.ts'), JOURNEY);
  // --hq-only listens on every interface: CURVE, as a real distributed run has it.
  writeKeysDir(join(dir, 'keys'), generateKeys());
  // Quoted fields with commas and quotes, as a spreadsheet writes them.
  writeFileSync(join(dir, 'users.csv'), `user,password\n${users.map((u) => `${u.user},"${u.password.replaceAll('"', '""')}"`).join('\n')}\n`);
  const [pub, rc, http] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      run_time: 10,
      results_ts_interval: 1,
      progress_bar: false,
      publish_port: pub,
      rc_port: rc,
      http_port: http,
      min_turrets: 2,
      keys_dir: 'keys',
      transaction_context: { base },
      data: { file: 'users.csv' },
      thresholds: { checks: { 'order ok': '>99%', 'login ok': '>99%' } },
      turrets: [
        { name: 'a', canons: 5, rampup: 0, script: 'journey.ts' },
        { name: 'b', canons: 5, rampup: 0, script: 'journey.ts' },
      ],
    }),
  );
  const turretConfig = (name: string, canons: number) => {
    const path = join(dir, `${name}.json`);
    writeFileSync(
      path,
      JSON.stringify({
        name,
        canons,
        rampup: 0,
        script: 'journey.ts',
        hq_address: '127.0.0.1',
        hq_publisher: pub,
        hq_rc: rc,
        keys_dir: 'keys',
        // Turret b walks the same journey on undici's client: both transports keep sessions and pass checks.
        ...(name === 'b' ? { http: { client: 'undici' } } : {}),
      }),
    );
    return path;
  };
  const results = join(dir, 'results');
  try {
    const hq = startOct(['run', dir, '--hq-only', '--no-progress', '--results-dir', results]);
    const a = startOct(['turret', '--config', turretConfig('a', 5), '--uuid', 'turret-a']);
    const b = startOct(['turret', '--config', turretConfig('b', 5), '--uuid', 'turret-b']);
    const status = async () =>
      (await fetch(`http://127.0.0.1:${http}/status`)).json() as Promise<{ progress: { state: string; elapsedSeconds: number; checks: { passes: number } } }>;
    await until(async () => ((await status().catch(() => null))?.progress.elapsedSeconds ?? 0) >= 2, 60_000, 'the test to run 2 s');
    // Live: the checks are counted while the test runs.
    assert.ok((await status()).progress.checks.passes > 0);
    const c = startOct(['turret', '--config', turretConfig('c', 2), '--uuid', 'turret-c']); // joins mid-run
    const joinerLoggedIn = () => [...loginsBy.values()].some((s) => [...s][0]!.startsWith('turret-c/'));
    await until(async () => joinerLoggedIn(), 30_000, 'the joining turret to log in');
    const hqDone = await hq.done;
    for (const t of [a, b, c]) t.child.kill('SIGTERM');
    await Promise.all([a.done, b.done, c.done]);
    assert.equal(hqDone.code, 4, `a failed threshold exits 4:\n${hqDone.out}`);

    // Every canon of every turret, the joiner's too, logged in as its own user, and only as it.
    assert.equal(loginsBy.size, 12, `accounts used: ${[...loginsBy.keys()].join(', ')}`);
    const canons = [...loginsBy.values()].map((s) => [...s]);
    assert.ok(
      canons.every((s) => s.length === 1),
      `a user shared by canons: ${JSON.stringify(canons)}`,
    );
    assert.equal(new Set(canons.flat()).size, 12);
    // The session cookie went with every request after the login (a logout clears it before the next login).
    assert.equal(unauthenticated, 0);

    const summary = (await import(join(results, 'summary.json'), { with: { type: 'json' } })).default as Summary;
    const order = summary.checks.find((k) => k.name === 'order ok')!;
    const n = order.passes + order.fails;
    const sigma = Math.sqrt((0.9 * 0.1) / n);
    assert.ok(n > 100, `${n} orders`);
    assert.ok(Math.abs(order.passRate - 0.9) < 4 * sigma, `order ok ${order.passRate} of ${n}, expected 0.9 ± ${4 * sigma}`);
    assert.equal(summary.checks.find((k) => k.name === 'order is mine')?.fails, 0);
    assert.equal(summary.checks.find((k) => k.name === 'login ok')?.passRate, 1);
    const verdicts = Object.fromEntries(summary.thresholds.results.map((r) => [r.key, r.passed]));
    assert.deepEqual(verdicts, { 'checks.order ok': false, 'checks.login ok': true });
    // 10^6 distinct order ids: one series, one request row; checks are not latency series.
    const orders = summary.requests.find((r) => r.name === 'GET /orders/:id')!;
    assert.equal(orders.count, n);
    assert.equal(orders.statuses['500'], order.fails);
    assert.equal(orders.failed, order.fails);
    assert.deepEqual(summary.series.map((s) => s.name).sort(), ['All transactions', 'GET /orders/:id', 'POST /login', 'POST /logout'].sort());
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('bad data files stop the run before it starts, naming the file and the counts (exit 2)', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'oct-data-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'v.ts'), JOURNEY);
  const run = async (file: string, text: string, canons: number, policy?: string) => {
    writeFileSync(join(dir, file), text);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ run_time: 1, data: { file, ...(policy ? { policy } : {}) }, turrets: [{ name: 'a', canons, script: 'v.ts' }] }),
    );
    return oct(['run', dir, '--no-progress'], { timeoutMs: 30_000 });
  };
  const ragged = await run('ragged.csv', 'user,password\nu1,p1\nu2\nu3,p3,extra\n', 1);
  assert.equal(ragged.code, 2, ragged.stderr);
  assert.match(ragged.stderr, /ragged\.csv/);
  assert.match(ragged.stderr, /line 3: 1 fields, the header has 2 \(user, password\)/);
  assert.match(ragged.stderr, /line 4: 3 fields, the header has 2/);

  const empty = await run('empty.csv', '', 1);
  assert.equal(empty.code, 2, empty.stderr);
  assert.match(empty.stderr, /empty\.csv[\s\S]*the data file is empty/);
  const headerOnly = await run('head.csv', 'user,password\n', 1);
  assert.equal(headerOnly.code, 2);
  assert.match(headerOnly.stderr, /head\.csv[\s\S]*a header \(user, password\) and no rows/);
  const emptyLines = await run('empty.jsonl', '\n\n', 1);
  assert.equal(emptyLines.code, 2);
  assert.match(emptyLines.stderr, /empty\.jsonl[\s\S]*no JSON lines/);

  const few = await run('few.csv', 'user\nu1\nu2\nu3\n', 5);
  assert.equal(few.code, 2, few.stderr);
  assert.match(few.stderr, /few\.csv has 3 rows, and the "unique" policy gives each of the 5 canons its own/);
  // round-robin shares rows on purpose: the same file is fine (checked by parsing, not by running it to the end).
  const missing = await run('few.csv', 'user\nu1\n', 5, 'sometimes');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /data\.policy/);
});
