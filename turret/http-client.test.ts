import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpClient, HttpError, warmUpHttp } from './http-client.ts';
import { createHttpAgent } from './undici-transport.ts';
import { Http1Connector } from './http1-client.ts';

let server: Server;
let base: string;
let rawServer: ReturnType<typeof createTcpServer>;
let rawBase: string;
const agent = createHttpAgent();
const connector = new Http1Connector();
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
      if (path === '/chunked') {
        res.write('abc');
        return void res.end('défg');
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
  // Header values in UTF-8, which Node's server will not write (it refuses what is beyond latin1).
  rawServer = createTcpServer((sock) => {
    sock.on('error', () => {});
    sock.on('data', (d) => {
      const path = d.toString('latin1').split(' ')[1];
      const head = path === '/to-utf8' ? `HTTP/1.1 302 Found\r\nLocation: ${base}/café?q=é\r\n` : 'HTTP/1.1 200 OK\r\nX-Name: voilà, Ω\r\n';
      sock.write(Buffer.from(`${head}Content-Length: 0\r\n\r\n`, 'utf8'));
    });
  });
  await new Promise<void>((r) => rawServer.listen(0, '127.0.0.1', r));
  rawBase = `http://127.0.0.1:${(rawServer.address() as AddressInfo).port}`;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await agent.close();
  connector.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => rawServer.close(r));
});

// Every behaviour, through both transports: the turret's own connections and undici's Agent.
for (const kind of ['oct', 'undici'] as const) {
  const transport = () => (kind === 'oct' ? { transport: connector.session() } : { dispatcher: agent });

  test(`${kind}: get returns status, headers and the body as text; connections are reused`, async () => {
    const http = createHttpClient(transport());
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

  test(`${kind}: post sends json; buffer response type`, async () => {
    const http = createHttpClient(transport());
    const res = await http.post(`${base}/p`, { json: { a: 1 } });
    assert.equal(res.body, 'got application/json {"a":1}');
    const buf = await http.request(`${base}/b`, { responseType: 'buffer' });
    assert.ok(Buffer.isBuffer(buf.body));
    assert.equal(buf.body.toString(), 'hello /b');
  });

  test(`${kind}: status >= 400 throws HttpError unless okStatuses or throwOnStatus: false`, async () => {
    const http = createHttpClient(transport());
    await assert.rejects(http.get(`${base}/x?status=503`), (err: unknown) => {
      assert.ok(err instanceof HttpError);
      assert.equal(err.status, 503);
      assert.equal(err.message, 'HTTP 503 from GET /x');
      assert.equal(err.url, `${base}/x?status=503`);
      return true;
    });
    assert.equal((await http.get(`${base}/x?status=404`, { okStatuses: [404] })).status, 404);
    assert.equal((await http.get(`${base}/x?status=500`, { throwOnStatus: false })).status, 500);
  });

  test(`${kind}: { timer } records the duration, also when the status throws`, async () => {
    const timers: Record<string, number> = {};
    const http = createHttpClient({ ...transport(), recordTimer: (n, s) => (timers[n] = s) });
    await http.get(`${base}/t`, { timer: 'home' });
    await assert.rejects(http.get(`${base}/t?status=500`, { timer: 'broken' }));
    assert.ok(timers.home! > 0 && timers.home! < 5);
    assert.ok(timers.broken! > 0);
  });

  test(`${kind}: a refused connection rejects (counted as an error by the canon)`, async () => {
    const http = createHttpClient(transport());
    await assert.rejects(http.get('http://127.0.0.1:1/'));
  });

  test(`${kind}: request headers are sent; response headers are lower-case, repeated ones as arrays`, async () => {
    const http = createHttpClient(transport());
    const res = await http.get(`${base}/headers`, { headers: { 'X-Token': 'abc' } });
    assert.equal(res.body, 'abc');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(typeof res.headers['content-length'], 'string');
  });

  test(`${kind}: bodies: a leading UTF-8 BOM is dropped from text, a large body arrives whole, 204 and HEAD are empty`, async () => {
    const http = createHttpClient(transport());
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

  test(`${kind}: timeoutMs aborts a slow response, before or during the body, with a TimeoutError naming the request`, async () => {
    const http = createHttpClient(transport());
    for (const path of ['/slow', '/slow-body']) {
      const t0 = Date.now();
      await assert.rejects(http.get(`${base}${path}`, { timeoutMs: 100 }), (err: Error) => {
        assert.equal(err.name, 'TimeoutError');
        assert.equal(err.message, `timeout: GET ${path} gave no complete response within 100 ms`);
        return true;
      });
      assert.ok(Date.now() - t0 < 1500, path);
    }
    // The pool is still usable afterwards.
    assert.equal((await http.get(`${base}/ok`, { timeoutMs: 1000 })).body, 'hello /ok');
  });

  test(`${kind}: UTF-8 in response headers reads as undici reads it: header values, a redirect's Location`, async () => {
    const http = createHttpClient(transport());
    assert.equal((await http.get(`${rawBase}/utf8`)).headers['x-name'], 'voilà, Ω');
    const res = await http.get(`${rawBase}/to-utf8`);
    assert.equal(res.url, `${base}/caf%C3%A9?q=%C3%A9`);
    assert.equal(res.body, 'hello /caf%C3%A9?q=%C3%A9');
  });

  test(`${kind}: what is recorded per request: series, status, body bytes sent and received (decoded from chunks), each redirect hop`, async () => {
    const rows: unknown[][] = [];
    const http = createHttpClient({
      ...transport(),
      recordRequest: (series, _s, failed, status, sent, received) => rows.push([series, failed, status, sent, received]),
    });
    await http.get(`${base}/chunked`);
    await http.post(`${base}/p`, { body: 'héllo' });
    await http.get(`${rawBase}/to-utf8`);
    await http.get(`${base}/x?status=404`, { throwOnStatus: false });
    await http.get('http://127.0.0.1:1/').catch(() => {});
    // A script's mistake (an object as the body) is a failed request of 0 bytes, not NaN in the sums.
    await assert.rejects(http.post(`${base}/p`, { body: { a: 1 } as never }));
    assert.deepEqual(rows, [
      ['GET /chunked', false, 200, 0, 8],
      ['POST /p', false, 200, 6, 'got undefined héllo'.length + 1],
      ['GET /to-utf8', false, 302, 0, 0],
      ['GET /caf%C3%A9', false, 200, 0, 'hello /caf%C3%A9?q=%C3%A9'.length],
      ['GET /x', true, 404, 0, 'hello /x?status=404'.length],
      ['GET /', true, 0, 0, 0],
      ['POST /p', true, 0, 0, 0],
    ]);
  });

  test(`${kind}: headers are parsed on first read, kept by JSON.stringify and left out of a spread`, async () => {
    const http = createHttpClient(transport());
    const res = await http.get(`${base}/h`);
    assert.equal(res.headers, res.headers, 'parsed once');
    assert.equal(typeof res.headers.date, 'string');
    const json = JSON.parse(JSON.stringify(res));
    assert.deepEqual(Object.keys(json).sort(), ['body', 'duration', 'headers', 'status', 'url']);
    assert.equal(json.headers.date, res.headers.date);
    assert.deepEqual(Object.keys({ ...res }).sort(), ['body', 'duration', 'status', 'url']);
  });
}

test("without a dispatcher, undici's global agent is used; non-http URLs reject", async () => {
  const http = createHttpClient();
  assert.equal((await http.get(`${base}/g`)).body, 'hello /g');
  await assert.rejects(http.get('ftp://127.0.0.1/x'), /protocol/);
  await assert.rejects(http.get('not a url'));
});

test('the warm-up completes its requests through either client (its failures are only logged by the turret)', { timeout: 20_000 }, async () => {
  await warmUpHttp(300, 'oct');
  await warmUpHttp(300, 'undici');
});
