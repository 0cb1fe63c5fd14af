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
      const path = new URL(req.url!, 'http://x').pathname;
      if (path === '/slow') return void setTimeout(() => res.end('late'), 2000).unref();
      if (path === '/slow-body') {
        res.writeHead(200);
        res.write('part');
        return void setTimeout(() => res.end('rest'), 2000).unref();
      }
      if (path === '/bom') return void res.end(Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]));
      if (path === '/big') return void res.end('x'.repeat(1 << 20));
      if (path === '/headers') {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        return void res.end(`${req.headers['x-token']}`);
      }
      if (path === '/empty') {
        res.writeHead(204);
        return void res.end();
      }
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

test('request headers are sent; response headers are lower-case, repeated ones as arrays', async () => {
  const http = createHttpClient({ dispatcher: agent });
  const res = await http.get(`${base}/headers`, { headers: { 'X-Token': 'abc' } });
  assert.equal(res.body, 'abc');
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(typeof res.headers['content-length'], 'string');
});

test('bodies: a leading UTF-8 BOM is dropped from text, a large body arrives whole, 204 and HEAD are empty', async () => {
  const http = createHttpClient({ dispatcher: agent });
  assert.equal((await http.get(`${base}/bom`)).body, 'hi');
  assert.equal((await http.request(`${base}/bom`, { responseType: 'buffer' })).body.length, 5);
  const big = await http.get(`${base}/big`);
  assert.equal(big.body.length, 1 << 20);
  assert.equal((await http.get(`${base}/empty`)).body, '');
  assert.equal((await http.request(`${base}/empty`, { responseType: 'buffer' })).body.length, 0);
  const head = await http.request(`${base}/h`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('timeoutMs aborts a slow response, before or during the body, with a TimeoutError', async () => {
  const http = createHttpClient({ dispatcher: agent });
  for (const path of ['/slow', '/slow-body']) {
    const t0 = Date.now();
    await assert.rejects(http.get(`${base}${path}`, { timeoutMs: 100 }), (err: Error) => {
      assert.equal(err.name, 'TimeoutError');
      assert.equal(err.message, 'The operation was aborted due to timeout');
      return true;
    });
    assert.ok(Date.now() - t0 < 1500, path);
  }
  // The pool is still usable afterwards.
  assert.equal((await http.get(`${base}/ok`, { timeoutMs: 1000 })).body, 'hello /ok');
});

test("without a dispatcher, undici's global agent is used; non-http URLs reject", async () => {
  const http = createHttpClient();
  assert.equal((await http.get(`${base}/g`)).body, 'hello /g');
  await assert.rejects(http.get('ftp://127.0.0.1/x'), /protocol/);
  await assert.rejects(http.get('not a url'));
});
