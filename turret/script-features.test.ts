// What a script's requests, checks and cookies become, through the real canon, ctx.http and the
// turret's per-second deltas, round-tripped through the aggregate wire format, against real
// HTTP and HTTPS servers on 127.0.0.1.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { systemClock } from '../common/clock.ts';
import { memoryLogger } from '../common/log.ts';
import { DeltaBuilder, encodeAggregate, parseAggregate, type SecondDelta, type SeriesDelta } from '../protocol/aggregate.ts';
import { ConfigError } from '../protocol/config.ts';
import { checkSeries } from '../protocol/series-names.ts';
import { makeSelfSignedCert } from '../test/support/tls-cert.ts';
import { buildTransaction, type CanonDeps, runIteration } from './canon.ts';
import { createHttpClient, HttpError } from './http-client.ts';
import { createHttpAgent } from './undici-transport.ts';
import { Http1Connector } from './http1-client.ts';
import type { TransactionClass, TransactionContext } from './script-api.ts';
import { readTls } from './tls-files.ts';
import { createWsClient } from './ws-client.ts';
import { WebSocketServer } from 'ws';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let handler: Handler = (_q, res) => res.end('ok');
let server: Server;
let base: string;
const agent = createHttpAgent();

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A canon of `Transaction` whose requests and checks go into a DeltaBuilder, as the turret's batcher does. */
function canon(Transaction: TransactionClass, extra: Partial<CanonDeps> = {}) {
  const deltas = new DeltaBuilder();
  const errors: (string | null)[] = [];
  const deps: CanonDeps = {
    index: 0,
    Transaction,
    turret: { name: 't', uuid: 'u' },
    data: {},
    dispatcher: agent,
    clock: systemClock,
    log: memoryLogger(),
    startedAt: systemClock.monotonic(),
    record: (row) => {
      errors.push(row.error);
      deltas.record(row.elapsed, row.scriptrunTime, row.error, row.customTimers);
    },
    metrics: deltas,
    stopRequested: () => false,
    waitForRoom: async () => {},
    ...extra,
  };
  const tx = buildTransaction(deps);
  return {
    errors,
    iterate: (n: number) =>
      (async () => {
        for (let i = 0; i < n; i++) await runIteration(deps, tx);
      })(),
    /** The deltas as the HQ reads them: encoded, parsed, merged over seconds. */
    wire(): { series: Map<string, SeriesDelta[]>; errors: Map<string, number> } {
      const parsed = parseAggregate(JSON.parse(encodeAggregate({ uuid: 'u', turret: 't', seq: 1, seconds: deltas.take() })));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      const series = new Map<string, SeriesDelta[]>();
      const errs = new Map<string, number>();
      for (const sec of parsed.message.seconds as SecondDelta[]) {
        for (const d of sec.series) series.set(d.name, [...(series.get(d.name) ?? []), d]);
        for (const [m, c] of sec.errors) errs.set(m, (errs.get(m) ?? 0) + c);
      }
      return { series, errors: errs };
    },
  };
}

const total = (ds: SeriesDelta[] | undefined, f: (d: SeriesDelta) => number) => (ds ?? []).reduce((a, d) => a + f(d), 0);
const counter = (ds: SeriesDelta[] | undefined, k: string) => total(ds, (d) => d.counters?.[k] ?? 0);

function script(run: (ctx: TransactionContext, i: number) => Promise<void>): TransactionClass {
  return class {
    customTimers: Record<string, number> = {};
    i = 0;
    constructor(readonly ctx: TransactionContext) {}
    run() {
      return run(this.ctx, this.i++);
    }
  };
}

test('10,000 distinct /orders/<id> URLs are one series and one error group, with statuses and bytes', async () => {
  handler = (req, res) => {
    const id = Number(new URL(req.url!, base).pathname.split('/')[2]);
    res.writeHead(id % 100 === 0 ? 500 : 200);
    res.end('x'.repeat(10));
  };
  const c = canon(script((ctx, i) => ctx.http.get(`${base}/orders/${100_000 + i}?page=${i}`).then(() => {})));
  await c.iterate(10_000);
  const { series, errors } = c.wire();
  const names = [...series.keys()].filter((n) => n !== 'All transactions');
  assert.deepEqual(names, ['GET /orders/:id']);
  const s = series.get('GET /orders/:id');
  assert.equal(
    total(s, (d) => d.hist.n),
    10_000,
  );
  assert.equal(
    total(s, (d) => d.errors),
    100,
  );
  assert.equal(counter(s, 'status:200'), 9_900);
  assert.equal(counter(s, 'status:500'), 100);
  assert.equal(counter(s, 'bytes_received'), 100_000);
  assert.deepEqual([...errors], [['HTTP 500 from GET /orders/:id', 100]]);
});

test('a name option groups dynamic URLs by hand; uuid, hex and token segments group by default', async () => {
  handler = (_q, res) => res.end('ok');
  const ids = ['3f2a1c9e-8b7d-4e6f-a1b2-c3d4e5f60718', 'deadbeef01', 'AbC123xyzTOKEN_456-789'];
  const c = canon(
    script(async (ctx, i) => {
      await ctx.http.get(`${base}/search?q=${i}`, { name: 'search' });
      await ctx.http.post(`${base}/users/${ids[i % 3]}/cart`, { json: { i } });
    }),
  );
  await c.iterate(30);
  const { series } = c.wire();
  assert.equal(
    total(series.get('GET search'), (d) => d.hist.n),
    30,
  );
  assert.equal(
    total(series.get('POST /users/:id/cart'), (d) => d.hist.n),
    30,
  );
  assert.ok(counter(series.get('POST /users/:id/cart'), 'bytes_sent') >= 30 * 7);
});

test('checks: a failed check does not end the iteration; the pass rate is the share of truthy conditions', async () => {
  // A server that fails 1 response in 10 at random (seeded): the check's pass rate is 90% within
  // its sampling error, and every iteration runs to its end.
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  handler = (_q, res) => {
    res.writeHead(random() < 0.1 ? 503 : 200);
    res.end();
  };
  let finished = 0;
  const n = 2_000;
  const c = canon(
    script(async (ctx) => {
      const res = await ctx.http.get(`${base}/flaky`, { throwOnStatus: false });
      ctx.check('status is 200', res.status === 200);
      ctx.check('always', true);
      finished++;
    }),
  );
  await c.iterate(n);
  assert.equal(finished, n);
  assert.ok(c.errors.every((e) => e === null));
  const { series } = c.wire();
  const check = series.get(checkSeries('status is 200'));
  assert.equal(
    total(check, (d) => d.hist.n),
    n,
  );
  const rate = 1 - total(check, (d) => d.errors) / n;
  const sigma = Math.sqrt((0.9 * 0.1) / n);
  assert.ok(Math.abs(rate - 0.9) < 4 * sigma, `pass rate ${rate}, expected 0.9 ± ${4 * sigma}`);
  assert.equal(
    total(series.get(checkSeries('always')), (d) => d.errors),
    0,
  );
  // The request series counts the 503s as failed requests even though the script did not throw.
  assert.equal(
    total(series.get('GET /flaky'), (d) => d.errors),
    n - Math.round(rate * n),
  );
});

test('sessions: cookies set by one request are sent on the next, kept across iterations, cleared by ctx.cookies.clear()', async () => {
  const seen: (string | undefined)[] = [];
  handler = (req, res) => {
    if (req.url === '/login') res.setHeader('set-cookie', 'sid=abc123; Path=/; HttpOnly');
    seen.push(req.headers.cookie);
    res.end();
  };
  const c = canon(
    script(async (ctx, i) => {
      if (i === 0) await ctx.http.post(`${base}/login`, { body: 'u=1' });
      await ctx.http.get(`${base}/me`);
      if (i === 1) ctx.cookies.clear();
    }),
  );
  await c.iterate(3);
  assert.deepEqual(seen, [undefined, 'sid=abc123', 'sid=abc123', undefined]);
});

test('redirects: followed by default (each hop its own series), a 303 after POST becomes a GET, the limit is an error', async () => {
  const methods: string[] = [];
  handler = (req, res) => {
    methods.push(`${req.method} ${req.url}`);
    if (req.url === '/login') {
      res.writeHead(303, { location: '/home', 'set-cookie': 'sid=1; Path=/' });
      return void res.end();
    }
    if (req.url!.startsWith('/loop')) {
      res.writeHead(302, { location: `/loop/${Number(req.url!.split('/')[2] ?? 0) + 1}` });
      return void res.end();
    }
    res.end(`home ${req.headers.cookie}`);
  };
  const http = createHttpClient({ dispatcher: agent });
  const r = await http.post(`${base}/login`, { body: 'x' });
  assert.equal(r.status, 200);
  assert.equal(r.url, `${base}/home`);
  assert.deepEqual(methods, ['POST /login', 'GET /home']);
  const direct = await http.post(`${base}/login`, { body: 'x', maxRedirects: 0 });
  assert.equal(direct.status, 303);
  await assert.rejects(http.get(`${base}/loop/0`, { maxRedirects: 3 }), /too many redirects: GET \/loop\/:id \(limit 3\)/);

  const c = canon(script((ctx) => ctx.http.post(`${base}/login`, { body: 'x' }).then(() => {})));
  await c.iterate(2);
  const { series } = c.wire();
  assert.equal(counter(series.get('POST /login'), 'status:303'), 2);
  assert.equal(counter(series.get('GET /home'), 'status:200'), 2);
});

test('timeouts: a request with no response in time fails with a message naming it, counted in its series', async () => {
  handler = (_q, res) => void setTimeout(() => res.end('late'), 1500).unref();
  const c = canon(script((ctx, i) => ctx.http.get(`${base}/slow/${i}`, { timeoutMs: 100 }).then(() => {})));
  await c.iterate(2);
  assert.deepEqual(c.errors, [
    'timeout: GET /slow/:id gave no complete response within 100 ms',
    'timeout: GET /slow/:id gave no complete response within 100 ms',
  ]);
  const { series } = c.wire();
  assert.equal(
    total(series.get('GET /slow/:id'), (d) => d.errors),
    2,
  );
  assert.equal(counter(series.get('GET /slow/:id'), 'status:none'), 2);
  // The client's default timeout applies when the request gives none.
  const http = createHttpClient({ dispatcher: agent, timeoutMs: 100 });
  await assert.rejects(http.get(`${base}/slow/x`), /within 100 ms/);
});

test('TLS: a self-signed server is refused by default, accepted with its CA, accepted with verification off', async () => {
  const cert = makeSelfSignedCert();
  const tlsServer = createHttpsServer({ cert: cert.cert, key: cert.key }, (_q, res) => res.end('secure'));
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}/s`;
  const agents = [createHttpAgent(), createHttpAgent({ tls: { ca: cert.cert } }), createHttpAgent({ tls: { rejectUnauthorized: false } })];
  const connectors = [new Http1Connector(), new Http1Connector({ ca: cert.cert }), new Http1Connector({ rejectUnauthorized: false })];
  try {
    await assert.rejects(createHttpClient({ dispatcher: agents[0] }).get(url), /GET \/s: .*(self-signed|self signed)/);
    assert.equal((await createHttpClient({ dispatcher: agents[1] }).get(url)).body, 'secure');
    assert.equal((await createHttpClient({ dispatcher: agents[2] }).get(url)).body, 'secure');
    // The same through the turret's own connections.
    await assert.rejects(createHttpClient({ transport: connectors[0]!.session() }).get(url), /GET \/s: .*(self-signed|self signed)/);
    assert.equal((await createHttpClient({ transport: connectors[1]!.session() }).get(url)).body, 'secure');
    assert.equal((await createHttpClient({ transport: connectors[2]!.session() }).get(url)).body, 'secure');
  } finally {
    for (const c of connectors) c.close();
    await Promise.all(agents.map((a) => a.close()));
    tlsServer.closeAllConnections();
    await new Promise((r) => tlsServer.close(r));
  }
});

test("TLS through the turret's own connections: a client certificate when the server asks, SNI for a name and none for an IP", async () => {
  const cert = makeSelfSignedCert();
  const seen: [unknown, unknown][] = [];
  const tlsServer = createHttpsServer({ cert: cert.cert, key: cert.key, requestCert: true, rejectUnauthorized: true, ca: cert.cert }, (q, res) => {
    const socket = q.socket as import('node:tls').TLSSocket;
    seen.push([socket.servername, socket.getPeerCertificate().subject?.CN]);
    res.end('secure');
  });
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  const port = (tlsServer.address() as AddressInfo).port;
  const withCert = new Http1Connector({ ca: cert.cert, cert: cert.cert, key: cert.key });
  const withoutCert = new Http1Connector({ ca: cert.cert });
  const byName = new Http1Connector({ cert: cert.cert, key: cert.key, rejectUnauthorized: false });
  try {
    assert.equal((await createHttpClient({ transport: withCert.session() }).get(`https://127.0.0.1:${port}/c`)).body, 'secure');
    await assert.rejects(createHttpClient({ transport: withoutCert.session() }).get(`https://127.0.0.1:${port}/c`), /GET \/c: .*certificate required/);
    assert.equal((await createHttpClient({ transport: byName.session() }).get(`https://localhost:${port}/c`)).body, 'secure');
    assert.deepEqual(seen, [
      [false, '127.0.0.1'],
      ['localhost', '127.0.0.1'],
    ]);
  } finally {
    for (const c of [withCert, withoutCert, byName]) c.close();
    tlsServer.closeAllConnections();
    await new Promise((r) => tlsServer.close(r));
  }
});

test('HttpError keeps the full URL for the script while its message names the group', async () => {
  handler = (_q, res) => {
    res.writeHead(404);
    res.end('nope');
  };
  const http = createHttpClient({ dispatcher: agent });
  await assert.rejects(http.get(`${base}/items/987654`), (err: unknown) => {
    assert.ok(err instanceof HttpError);
    assert.equal(err.message, 'HTTP 404 from GET /items/:id');
    assert.equal(err.url, `${base}/items/987654`);
    assert.equal(err.body, 'nope');
    return true;
  });
});

test("wss:// uses the turret's http.tls as ctx.http does: its CA is trusted, a self-signed server is refused without it", async () => {
  const cert = makeSelfSignedCert();
  const server = createHttpsServer({ cert: cert.cert, key: cert.key });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
  try {
    const ws = await createWsClient({ tls: { ca: cert.cert } }).connect(url);
    assert.equal(await ws.roundTrip('hi', (m) => m === 'echo:hi', { name: 'live' }), 'echo:hi');
    await ws.close();
    await assert.rejects(createWsClient().connect(url), /self[- ]signed|certificate/i);
    const insecure = await createWsClient({ tls: { rejectUnauthorized: false } }).connect(url);
    await insecure.close();
  } finally {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('WebSocket: connect, echo round trips measured as a series, a wait that times out is an error', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  let cookieSeen: string | undefined;
  wss.on('connection', (ws, req) => {
    cookieSeen = req.headers.cookie;
    ws.on('message', (m, binary) => {
      const text = m.toString();
      if (text !== 'silence') ws.send(binary ? m : `echo:${text}`);
    });
  });
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/chat/42`;
  try {
    const c = canon(
      script(async (ctx) => {
        ctx.cookies.set('sid=s1; Path=/', 'http://127.0.0.1/');
        const ws = await ctx.ws.connect(url);
        for (let i = 0; i < 50; i++) {
          const reply = await ws.roundTrip(`m${i}`, (m) => m === `echo:m${i}`, { name: 'echo' });
          ctx.check('echo matches', reply === `echo:m${i}`);
        }
        ws.send({ json: true });
        assert.equal(await ws.waitFor((m) => String(m).startsWith('echo:{')), 'echo:{"json":true}');
        await assert.rejects(
          ws.roundTrip('silence', () => true, { name: 'silent', timeoutMs: 100 }),
          /timeout: WS silent got no matching message within 100 ms/,
        );
        await ws.close();
      }),
    );
    await c.iterate(1);
    assert.deepEqual(c.errors, [null]);
    assert.equal(cookieSeen, 'sid=s1');
    const { series } = c.wire();
    assert.equal(
      total(series.get('WS connect /chat/:id'), (d) => d.hist.n),
      1,
    );
    assert.equal(
      total(series.get('WS echo'), (d) => d.hist.n),
      50,
    );
    assert.equal(
      total(series.get('WS echo'), (d) => d.errors),
      0,
    );
    assert.equal(
      total(series.get('WS silent'), (d) => d.errors),
      1,
    );
    assert.equal(
      total(series.get(checkSeries('echo matches')), (d) => d.hist.n - d.errors),
      50,
    );
    await assert.rejects(createWsClient().connect('ws://127.0.0.1:1/x'), /WS connect \/x: .*ECONNREFUSED/);
  } finally {
    for (const client of wss.clients) client.terminate();
    await new Promise((r) => wss.close(r));
  }
});

test("TLS settings from a turret's config: files read at start (a missing one named), skip-verify warned about once", () => {
  const cert = makeSelfSignedCert();
  const http = { client: 'oct' as const, max_redirects: 10, timeout: 60, request_metrics: true, cookies: true };
  const log = memoryLogger();
  const tls = readTls({ ...http, tls: { ca_file: 'cert.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json');
  assert.equal(tls?.ca, cert.cert);
  assert.equal(tls?.rejectUnauthorized, true);
  assert.equal(log.lines.length, 0);
  assert.throws(
    () => readTls({ ...http, tls: { ca_file: 'nope.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json'),
    /http\.tls\.ca_file: cannot read .*nope\.pem: ENOENT/,
  );
  // A client certificate: the pair is checked once, at start.
  const pair = readTls({ ...http, tls: { cert_file: 'cert.pem', key_file: 'key.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json');
  assert.equal(pair?.key, cert.key);
  writeFileSync(join(cert.dir, 'garbage.pem'), '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
  assert.throws(
    () => readTls({ ...http, tls: { cert_file: 'cert.pem', key_file: 'garbage.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json'),
    (err: Error) => err instanceof ConfigError && /http\.tls: cert_file cert\.pem, key_file garbage\.pem cannot be used: /.test(err.message),
  );
  const other = makeSelfSignedCert();
  writeFileSync(join(cert.dir, 'other-key.pem'), other.key);
  assert.throws(
    () => readTls({ ...http, tls: { cert_file: 'cert.pem', key_file: 'other-key.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json'),
    /key_file other-key\.pem cannot be used: .*key values mismatch/,
  );
  assert.throws(
    () => readTls({ ...http, tls: { key_file: 'key.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json'),
    /key_file needs cert_file/,
  );
  writeFileSync(join(cert.dir, 'bad-ca.pem'), 'not pem at all');
  assert.throws(
    () => readTls({ ...http, tls: { ca_file: 'bad-ca.pem', insecure_skip_verify: false } }, cert.dir, log, 'turret.json'),
    /http\.tls\.ca_file: bad-ca\.pem holds no PEM certificate/,
  );
  const insecure = readTls({ ...http, tls: { insecure_skip_verify: true } }, cert.dir, log, 'turret.json');
  assert.equal(insecure?.rejectUnauthorized, false);
  assert.equal(log.lines.filter((l) => l.includes('insecure_skip_verify is on')).length, 1);
});
