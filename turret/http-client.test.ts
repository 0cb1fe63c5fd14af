import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpAgent, createHttpClient, HttpError } from './http-client.ts';

let server: Server;
let base: string;
const agent = createHttpAgent();
let connections = 0;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = Number(new URL(req.url!, 'http://x').searchParams.get('status') ?? 200);
      res.writeHead(status, { 'content-type': 'text/plain', 'x-method': req.method! });
      res.end(req.method === 'POST' ? `got ${req.headers['content-type']} ${body}` : `hello ${req.url}`);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('get returns status, headers and the body as text; connections are reused', async () => {
  const http = createHttpClient({ dispatcher: agent });
  const before = connections;
  for (let i = 0; i < 20; i++) {
    const res = await http.get(`${base}/a?i=${i}`);
    assert.equal(res.status, 200);
    assert.equal(res.body, `hello /a?i=${i}`);
    assert.equal(res.headers['x-method'], 'GET');
    assert.ok(res.duration >= 0);
  }
  // undici opens a second socket while the first is being released; after that every request reuses them.
  assert.ok(connections - before <= 2, `keep-alive: ${connections - before} connections for 20 sequential requests`);
});

test('post sends json; buffer response type', async () => {
  const http = createHttpClient({ dispatcher: agent });
  const res = await http.post(`${base}/p`, { json: { a: 1 } });
  assert.equal(res.body, 'got application/json {"a":1}');
  const buf = await http.request(`${base}/b`, { responseType: 'buffer' });
  assert.ok(Buffer.isBuffer(buf.body));
  assert.equal(buf.body.toString(), 'hello /b');
});

test('status >= 400 throws HttpError unless okStatuses or throwOnStatus: false', async () => {
  const http = createHttpClient({ dispatcher: agent });
  await assert.rejects(http.get(`${base}/x?status=503`), (err: unknown) => {
    assert.ok(err instanceof HttpError);
    assert.equal(err.status, 503);
    assert.equal(err.message, `HTTP 503 from GET ${base}/x?status=503`);
    return true;
  });
  assert.equal((await http.get(`${base}/x?status=404`, { okStatuses: [404] })).status, 404);
  assert.equal((await http.get(`${base}/x?status=500`, { throwOnStatus: false })).status, 500);
});

test('{ timer } records the duration, also when the status throws', async () => {
  const timers: Record<string, number> = {};
  const http = createHttpClient({ dispatcher: agent, recordTimer: (n, s) => (timers[n] = s) });
  await http.get(`${base}/t`, { timer: 'home' });
  await assert.rejects(http.get(`${base}/t?status=500`, { timer: 'broken' }));
  assert.ok(timers.home! > 0 && timers.home! < 5);
  assert.ok(timers.broken! > 0);
});

test('a refused connection rejects (counted as an error by the canon)', async () => {
  const http = createHttpClient({ dispatcher: agent });
  await assert.rejects(http.get('http://127.0.0.1:1/'));
});
