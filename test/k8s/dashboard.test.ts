// `oct dashboard` (the real binary) against the stand-in API server, whose service proxy forwards
// to the HQ of a real `oct run` (control token from the environment, as the chart's Secret gives
// it): the page, the event stream as it arrives (updates about a second apart, not buffered),
// control refused without the token and accepted with it as a browser sends it (Authorization:
// Bearer, which the API server would take for its own), the run stopping; what the relay refuses
// (another Host, a path out of the service proxy); a missing release (exit 3, named); an unreadable
// Secret (the kubectl line to get the token).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { OCT_BIN, oct } from '../support/processes.ts';
import { until } from '../support/until.ts';
import { type WorkloadProject, workloadProject } from '../support/workload-project.ts';
import { type StandIn, startStandIn } from './stand-in-apiserver.ts';

const TOKEN = 'k8s-dashboard-test-token-0123456789';
const SCRIPT = `export class Transaction {
  customTimers = {};
  constructor(ctx) { this.ctx = ctx; }
  async run() { await this.ctx.timer('Example_Timer', () => new Promise((r) => setTimeout(r, 20))); }
}
`;
const labels = { 'app.kubernetes.io/instance': 'demo', 'app.kubernetes.io/part-of': 'oct', 'app.kubernetes.io/component': 'hq' };

interface Started {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, [OCT_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

/** A raw request (fetch would neither send another Host nor keep ".." in a path). */
function raw(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let api: StandIn;
let project: WorkloadProject;
let run: Started;
const cleanup: Started[] = [];

before(async () => {
  api = await startStandIn();
  project = await workloadProject(
    { run_time: 120, model: 'open', rate: 10, stop_grace: 5, turrets: [{ name: 'alpha', canons: 2, max_canons: 10, rampup: 0, script: 'v_user.ts' }] },
    SCRIPT,
  );
  run = start(['run', project.dir, '--no-progress', '--results-dir', project.results], { OCT_CONTROL_TOKEN: TOKEN });
  cleanup.push(run);
  // The release as the chart makes it: the HQ Service, its Deployment taking the token from the Secret.
  api.put('services', 'load', { metadata: { name: 'demo-oct-hq', labels } });
  api.put('deployments', 'load', {
    metadata: { name: 'demo-oct-hq', labels },
    spec: {
      replicas: 1,
      template: {
        spec: { containers: [{ name: 'hq', env: [{ name: 'OCT_CONTROL_TOKEN', valueFrom: { secretKeyRef: { name: 'demo-oct-control', key: 'token' } } }] }] },
      },
    },
  });
  api.put('secrets', 'load', { metadata: { name: 'demo-oct-control', labels }, data: { token: Buffer.from(TOKEN).toString('base64') } });
  api.forward.set('demo-oct-hq:http', `http://127.0.0.1:${project.ports.http}`);
  await until(() => /dashboard: http/.test(run.out()), 60_000, `oct run's dashboard line:\n${run.out()}\n${run.err()}`);
});

after(async () => {
  for (const p of cleanup) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await api.close();
});

async function startDashboard(args: string[] = []): Promise<{ d: Started; url: string; base: string }> {
  const d = start(['dashboard', '--kubeconfig', api.kubeconfig, '--release', 'demo', ...args]);
  cleanup.push(d);
  await until(() => /dashboard: http\S+/.test(d.out()) || d.child.exitCode !== null, 30_000, `oct dashboard's URL:\n${d.out()}\n${d.err()}`);
  const url = /dashboard: (http\S+)/.exec(d.out())?.[1];
  assert.ok(url, `oct dashboard printed its URL\n${d.out()}\n${d.err()}`);
  return { d, url, base: url.replace(/\/(#.*)?$/, '') };
}

/** Reads the event stream through the relay until `want` events arrived; each with its arrival time. */
function readEvents(url: string, want: number, timeoutMs: number): Promise<{ event: string; data: string; at: number }[]> {
  return new Promise((resolve, reject) => {
    const got: { event: string; data: string; at: number }[] = [];
    let buf = '';
    const req = request(url, (res) => {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) got.push({ event, data, at: Date.now() });
        }
        if (got.length >= want) {
          req.destroy();
          resolve(got);
        }
      });
    });
    req.on('error', (e) => (got.length >= want ? undefined : reject(e)));
    setTimeout(() => {
      req.destroy();
      reject(new Error(`${got.length} of ${want} events in ${timeoutMs} ms: ${got.map((g) => g.event).join(', ')}`));
    }, timeoutMs).unref();
    req.end();
  });
}

test('oct dashboard relays the page, the live stream and token-guarded control to the HQ through the API server', { timeout: 150_000 }, async () => {
  const { d, url, base } = await startDashboard();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/#token=/);
  assert.equal(decodeURIComponent(/#token=(.*)$/.exec(url)![1]!), TOKEN);
  assert.match(d.err(), /relaying to service demo-oct-hq \(release demo, namespace load\)/);

  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type')!, /text\/html/);
  const html = await page.text();
  assert.match(html, /new EventSource\('events'\)/, 'the page asks for its stream by a relative URL');
  assert.doesNotMatch(html, /EventSource\('\/events'\)|control\('\/control/);
  assert.match(html, /headers\['x-oct-token'\] = token/, 'the page sends the token in the header the API server leaves alone');

  // The full frame at once, then updates as the HQ sends them (one a second): not held back.
  await until(
    async () => ((await (await fetch(`${base}/status`)).json()) as { progress?: { state: string } }).progress?.state === 'running',
    60_000,
    'the run running',
  );
  const opened = Date.now();
  // Every event arrives while the stream is still open (a relay that buffered to the end would
  // deliver none); updates come as the HQ sends them, about a second apart, not in one burst
  // (three of them, so one stall of a busy machine cannot join them all).
  const events = await readEvents(`${base}/events`, 4, 20_000);
  assert.equal(events[0]!.event, 'full');
  assert.ok(events[0]!.at - opened < 3_000, `the first frame came ${events[0]!.at - opened} ms after opening`);
  const updates = events.slice(1);
  assert.deepEqual(
    updates.map((e) => e.event),
    ['update', 'update', 'update'],
  );
  const gaps = updates.slice(1).map((e, i) => e.at - updates[i]!.at);
  assert.ok(Math.max(...gaps) >= 300, `updates arrived apart, as sent (gaps ${gaps.join(', ')} ms)`);
  const frames = updates.map(
    (e) => JSON.parse(e.data) as { run: { state: string; elapsed: number }; totals: { transactions: number }; turrets: { name: string }[] },
  );
  assert.ok(frames.every((f) => f.run.state === 'running'));
  assert.ok(frames[2]!.run.elapsed > frames[0]!.run.elapsed, 'the run moved on between updates');
  assert.ok(frames[2]!.totals.transactions >= frames[0]!.totals.transactions);
  assert.deepEqual(
    frames[2]!.turrets.map((t) => t.name),
    ['alpha'],
  );

  // Through the relay the kubeconfig's credentials reach the API server, never the control token.
  const proxied = api.requests.filter((r) => r.path.includes('/services/demo-oct-hq:http/proxy/'));
  assert.ok(proxied.some((r) => r.path === '/api/v1/namespaces/load/services/demo-oct-hq:http/proxy/events'));
  assert.ok(proxied.every((r) => r.auth === 'Bearer stand-in-token'));

  // What the relay refuses: another site's name for 127.0.0.1, a path out of the service proxy.
  const port = Number(new URL(base).port);
  const rebound = await raw(port, '/status', { host: `evil.example:${port}` });
  assert.equal(rebound.status, 403);
  const before = api.requests.length;
  const climb = await raw(port, '/../../../secrets/demo-oct-control');
  assert.doesNotMatch(climb.body, /k8s-dashboard-test-token|"kind":"Secret"/);
  assert.ok(api.requests.slice(before).every((r) => r.path.startsWith('/api/v1/namespaces/load/services/demo-oct-hq:http/proxy/')));

  // Control without the token: refused by the HQ, nothing changes.
  const post = (headers: Record<string, string>) =>
    fetch(`${base}/control/stop`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ by: 'k8s-test' }) });
  const refused = await post({});
  assert.equal(refused.status, 401);
  assert.match(((await refused.json()) as { error: string }).error, /control token/);
  assert.equal((await post({ authorization: 'Bearer not-the-token-at-all' })).status, 401);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(((await (await fetch(`${base}/status`)).json()) as { progress: { state: string } }).progress.state, 'running');

  // With the token as the page sends it (X-Oct-Token): a new target, through the plan.
  const target = await fetch(`${base}/control/target`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-oct-token': TOKEN },
    body: JSON.stringify({ target: 15, by: 'k8s-test' }),
  });
  assert.equal(target.status, 200, await target.clone().text());
  assert.equal(((await target.json()) as { action: { action: string } }).action.action, 'target');

  // With the token as curl would send it (Authorization: Bearer, moved by the relay): the run stops.
  const stopped = await post({ authorization: `Bearer ${TOKEN}` });
  assert.equal(stopped.status, 200, await stopped.clone().text());
  assert.equal(((await stopped.json()) as { action: { action: string; by: string } }).action.action, 'stop');
  const t0 = Date.now();
  const code = await run.exited;
  assert.equal(code, 0, `oct run's exit code\n${run.out()}\n${run.err()}`);
  assert.ok(Date.now() - t0 < 60_000, 'the run ended after the stop, long before its run_time');

  // The HQ is gone: the relay says so instead of hanging, and stays up.
  const gone = await fetch(`${base}/status`);
  assert.equal(gone.status, 503);
  assert.match(await gone.text(), /error trying to reach service/);

  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.err());
});

test('oct dashboard names a release that is not there (exit 3); --help has an example', { timeout: 60_000 }, async () => {
  const help = await oct(['dashboard', '--help'], { timeoutMs: 30_000 });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--port[\s\S]*Examples:[\s\S]*dashboard -n load/);
  const r = await oct(['dashboard', '--kubeconfig', api.kubeconfig, '--release', 'gone'], { timeoutMs: 30_000 });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /no oct release "gone" in namespace load \(no HQ Service\)/);
  assert.doesNotMatch(r.stdout, /dashboard:/);
  const wrongNs = await oct(['dashboard', '--kubeconfig', api.kubeconfig, '--release', 'demo', '-n', 'elsewhere'], { timeoutMs: 30_000 });
  assert.equal(wrongNs.code, 3);
  assert.match(wrongNs.stderr, /no oct release "demo" in namespace elsewhere/);
  const badPort = await oct(['dashboard', '--kubeconfig', api.kubeconfig, '--release', 'demo', '--port', '70000'], { timeoutMs: 30_000 });
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--port must be a whole number from 0 to 65535, got 70000/);
});

test('without a readable Secret: the URL without the token and how to get it', { timeout: 60_000 }, async () => {
  api.put('deployments', 'load', { metadata: { name: 'demo-oct-hq', labels }, spec: { replicas: 1 } });
  const secret = api.get('secrets', 'load', 'demo-oct-control')!;
  secret.data = {};
  const { d, url } = await startDashboard();
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  await until(() => /kubectl/.test(d.err()), 10_000, 'the kubectl hint');
  assert.match(d.err(), /control \(stop, change the target\) needs the run's control token, and the Secret demo-oct-control could not be read/);
  assert.match(d.err(), /kubectl -n load get secret demo-oct-control -o jsonpath='\{\.data\.token\}' \| base64 -d/);
  d.child.kill('SIGINT');
  assert.equal(await d.exited, 0);
});
