import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { after, test } from 'node:test';
import { createHttpClient } from './http-client.ts';
import { Http1Connector, requestHead, SWEPT_FROM_MS } from './http1-client.ts';

const connector = new Http1Connector();
const servers: { close(cb: () => void): void; closeAllConnections?: () => void }[] = [];
after(async () => {
  connector.close();
  for (const s of servers) {
    s.closeAllConnections?.();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function listen<T extends Server | ReturnType<typeof createTcpServer>>(server: T): Promise<string> {
  servers.push(server as never);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A raw server: answers each request on a connection by `reply(n, socket)`, n counting its requests. */
async function rawServer(reply: (n: number, s: Socket, head: string) => void): Promise<{ base: string; connections: () => number }> {
  let connections = 0;
  const server = createTcpServer((s) => {
    connections++;
    let n = 0;
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, i);
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < i + 4 + len) return;
        buf = buf.slice(i + 4 + len);
        reply(++n, s, head);
      }
    });
    s.on('error', () => {});
  });
  return { base: await listen(server), connections: () => connections };
}

test('a kept-alive connection the server dropped under the next request: a GET is sent again on a new one, a POST fails', async () => {
  const srv = await rawServer((n, s) => {
    if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else s.destroy();
  });
  const http = createHttpClient({ transport: connector.session() });
  assert.equal((await http.get(`${srv.base}/a`)).body, 'ok');
  assert.equal((await http.get(`${srv.base}/b`)).body, 'ok', 'retried on a fresh connection');
  assert.equal(srv.connections(), 2);
  await assert.rejects(http.post(`${srv.base}/c`, { body: 'x' }), /POST \/c: the (server closed the connection before responding|connection closed)/);
  // A new connection that fails before any response is not retried either: the server is the problem.
  const refusing = await rawServer((_n, s) => s.destroy());
  await assert.rejects(http.get(`${refusing.base}/d`), /GET \/d: the (server closed the connection before responding|connection closed)/);
  assert.equal(refusing.connections(), 1);
});

test('Connection: close and responses read until close are not reused; keep-alive ones are', async () => {
  let closeNext = false;
  const srv = await rawServer((_n, s) => {
    if (closeNext) s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbye.');
    else s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const http = createHttpClient({ transport: connector.session() });
  for (let i = 0; i < 5; i++) await http.get(`${srv.base}/k`);
  assert.equal(srv.connections(), 1, 'five requests, one connection');
  closeNext = true;
  assert.equal((await http.get(`${srv.base}/k`)).body, 'bye.');
  closeNext = false;
  await http.get(`${srv.base}/k`);
  assert.equal(srv.connections(), 2, 'a new connection after Connection: close');
  const untilClose = await rawServer((_n, s) => s.end('HTTP/1.1 200 OK\r\n\r\nall of it'));
  assert.equal((await http.get(`${untilClose.base}/u`)).body, 'all of it');
});

test('a server that closes idle connections: the next request opens a new one without an error', async () => {
  let connections = 0;
  const server = createServer((_q, res) => res.end('fresh'));
  server.keepAliveTimeout = 100;
  server.on('connection', () => connections++);
  const base = await listen(server);
  const http = createHttpClient({ transport: connector.session() });
  assert.equal((await http.get(`${base}/`)).body, 'fresh');
  // Node's server closes an idle connection about a second after its keepAliveTimeout.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await http.get(`${base}/`)).body, 'fresh');
  assert.equal(connections, 2, 'the idle connection was closed by the server and replaced');
});

test('a malformed response fails its request, naming the fault, and the connection is dropped', async () => {
  let requests = 0;
  const srv = await rawServer((_n, s) =>
    s.write(++requests === 1 ? 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  );
  const http = createHttpClient({ transport: connector.session() });
  await assert.rejects(http.get(`${srv.base}/m`), /GET \/m: invalid HTTP response: bad Content-Length "x"/);
  assert.equal((await http.get(`${srv.base}/m`)).body, 'ok');
  assert.equal(srv.connections(), 2);
});

test('the request head: the Host from the URL unless given, the body length always ours, no header can split the request', async () => {
  const heads: string[] = [];
  const srv = await rawServer((_n, s, head) => {
    heads.push(head);
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });
  const http = createHttpClient({ transport: connector.session() });
  await http.post(`${srv.base}/p?q=1`, { body: 'héllo', headers: { 'X-A': 'b', 'content-length': '999' } });
  await http.get(`${srv.base}/g`, { headers: { host: 'example.test' } });
  await http.request(`${srv.base}/e`, { method: 'PUT' });
  const port = new URL(srv.base).port;
  assert.deepEqual(heads, [
    `POST /p?q=1 HTTP/1.1\r\nX-A: b\r\nhost: 127.0.0.1:${port}\r\ncontent-length: 6`,
    'GET /g HTTP/1.1\r\nhost: example.test',
    `PUT /e HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: 0`,
  ]);
  await assert.rejects(
    http.get(`${srv.base}/x`, { headers: { 'x-a': 'v\r\nX-Injected: 1' } }),
    /invalid value of header x-a: it contains a control character or one beyond latin1/,
  );
  await assert.rejects(http.get(`${srv.base}/x`, { headers: { 'bad name': 'v' } }), /invalid header name "bad name"/);
  assert.equal(heads.length, 3, 'nothing was sent for the refused requests');
  assert.throws(() => requestHead({ origin: '', path: '/', method: 'GET', headers: { a: 'x\ny' }, body: undefined }, 'h'), TypeError);
});

test('closing the connector fails what is in flight and closes every connection', async () => {
  const own = new Http1Connector();
  const srv = await rawServer(() => {});
  const http = createHttpClient({ transport: own.session() });
  const pending = http.get(`${srv.base}/hang`);
  await new Promise((r) => setTimeout(r, 100));
  own.close();
  await assert.rejects(pending, /GET \/hang: the connection closed/);
});

test('a long timeout is swept with the connections, not timed per request: it still aborts, naming the request; one answered in time is left alone', async () => {
  // The connector's clock jumps past the deadline, so the test need not wait the timeout's real seconds.
  let skew = 0;
  const own = new Http1Connector({}, { monotonic: () => performance.now() + skew });
  let release: (() => void) | null = null;
  const srv = await rawServer((n, s) => {
    if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else release = () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate');
  });
  const http = createHttpClient({ transport: own.session() });
  const ok = await http.get(`${srv.base}/ok`, { timeoutMs: 60_000 });
  skew = 120_000;
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(ok.body, 'ok', 'answered in time: not aborted by a later sweep');
  skew = 0;
  const slow = http.get(`${srv.base}/slow`, { timeoutMs: SWEPT_FROM_MS });
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  skew = SWEPT_FROM_MS;
  await assert.rejects(slow, (err: Error) => {
    assert.equal(err.name, 'TimeoutError');
    assert.equal(err.message, `timeout: GET /slow gave no complete response within ${SWEPT_FROM_MS} ms`);
    return true;
  });
  assert.ok(Date.now() - t0 < 1000, 'aborted at the first sweep after the deadline');
  assert.ok(release, 'the server had the request');
  own.close();
});

test('closing the connector with a GET in flight on a reused connection: it fails, and is not sent again on a new one', async () => {
  const own = new Http1Connector();
  const srv = await rawServer((n, s) => {
    if (n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const http = createHttpClient({ transport: own.session() });
  await http.get(`${srv.base}/first`);
  const pending = http.get(`${srv.base}/hang`);
  await new Promise((r) => setTimeout(r, 100));
  own.close();
  await assert.rejects(pending, /GET \/hang: the connection closed/);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(srv.connections(), 1, 'no connection opened after the connector closed');
  // A canon still looping after the turret stopped gets an error, not a socket nobody closes.
  await assert.rejects(http.get(`${srv.base}/late`), /GET \/late: the HTTP client is closed/);
  assert.equal(srv.connections(), 1);
});

test('an idle connection is closed once its reuse window passes, even if its canon never sends again', async () => {
  let closed = 0;
  const srv = await rawServer((_n, s) => {
    s.on('close', () => closed++);
    // timeout=1: kept no time at all (the margin is a second), so the next sweep closes it.
    s.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok');
  });
  const own = new Http1Connector();
  const http = createHttpClient({ transport: own.session() });
  await http.get(`${srv.base}/once`);
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(closed, 1, 'the client closed the idle connection past its window');
  own.close();
});

test('no header value or method can put a CR or LF on the wire, not even as a character beyond latin1 that the head encoding truncates', async () => {
  const heads: string[] = [];
  const srv = await rawServer((_n, s, head) => {
    heads.push(head);
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });
  const http = createHttpClient({ transport: connector.session() });
  // U+010D U+010A are written as the bytes 0D 0A by a latin1 head.
  await assert.rejects(http.get(`${srv.base}/x`, { headers: { 'x-b': '\u010d\u010aX-Injected: 1' } }), /invalid value of header x-b/);
  await assert.rejects(http.get(`${srv.base}/x`, { headers: { 'x-b': 'tab\tok\u0001' } }), /invalid value of header x-b/);
  await assert.rejects(http.request(`${srv.base}/m`, { method: 'GET /evil HTTP/1.1\r\nX: y\r\n\r\nGET' as never }), /invalid request method/);
  await assert.rejects(http.request(`${srv.base}/m`, { method: 'GET /evil' as never }), /invalid request method/);
  assert.equal(heads.length, 0, 'nothing was sent');
  // latin1 itself (what undici accepts too) goes out byte for byte, a tab included.
  await http.get(`${srv.base}/ok`, { headers: { 'x-b': 'caf\u00e9\tau lait' } });
  assert.equal(heads[0], `GET /ok HTTP/1.1\r\nx-b: caf\u00e9\tau lait\r\nhost: 127.0.0.1:${new URL(srv.base).port}`);
});

test('a body that is neither a string nor bytes is refused before anything is sent, and leaves no connection behind', async () => {
  const heads: string[] = [];
  const srv = await rawServer((_n, s, head) => {
    heads.push(head);
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });
  const http = createHttpClient({ transport: connector.session() });
  for (const body of [{ a: 1 }, 42, new ArrayBuffer(2)])
    await assert.rejects(http.post(`${srv.base}/b`, { body: body as never }), /POST \/b: the request body must be a string or a Uint8Array/);
  assert.equal(srv.connections(), 0, 'no connection opened for them');
  // Any view of bytes is sent whole.
  await http.post(`${srv.base}/b`, { body: new Uint16Array([0x6968, 0x2121]) as never });
  assert.match(heads[0]!, /content-length: 4$/);
});

test('one canon, several requests at once: a connection each, all reused by the next round; a timed-out connection is never reused', async () => {
  const srv = await rawServer((_n, s, head) => {
    const path = head.split(' ')[1]!;
    const reply = () => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    if (path === '/slow') setTimeout(reply, 300);
    else setTimeout(reply, 10);
  });
  const http = createHttpClient({ transport: connector.session() });
  for (let round = 0; round < 2; round++) {
    const bodies = (await Promise.all([1, 2, 3, 4, 5].map((i) => http.get(`${srv.base}/${i}`)))).map((r) => r.body);
    assert.deepEqual(bodies, ['/1', '/2', '/3', '/4', '/5']);
  }
  assert.equal(srv.connections(), 5);
  await assert.rejects(http.get(`${srv.base}/slow`, { timeoutMs: 100 }), /within 100 ms/);
  await new Promise((r) => setTimeout(r, 400));
  // Had the timed-out connection been kept, its late "/slow" would be read as this response.
  assert.equal((await http.get(`${srv.base}/after`)).body, '/after');
});

test('a request retried on a new connection keeps its deadline: the timeout counts from the first attempt', async () => {
  let connections = 0;
  const server = createTcpServer((s) => {
    const me = ++connections;
    let n = 0;
    s.on('error', () => {});
    s.on('data', () => {
      if (me === 1 && ++n === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else if (me === 1) s.destroy();
      // later connections never answer
    });
  });
  const base = await listen(server);
  const http = createHttpClient({ transport: connector.session() });
  await http.get(`${base}/a`);
  const t0 = Date.now();
  await assert.rejects(http.get(`${base}/b`, { timeoutMs: 300 }), /within 300 ms/);
  assert.ok(Date.now() - t0 < 500, `${Date.now() - t0} ms`);
  assert.equal(connections, 2, 'retried once');
});
