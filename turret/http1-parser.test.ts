import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpParseError, ResponseParser } from './http1-parser.ts';

interface Parsed {
  status: number;
  headers: string[];
  body: string;
  keepAlive: boolean;
  idleMs?: number | null;
}

/** Feeds `wire` in pieces cut at `cuts`, then `end()` if `close`; returns the responses completed. */
function parse(wire: string, opts: { cuts?: number[]; head?: boolean; close?: boolean; responses?: number } = {}): Parsed[] {
  const p = new ResponseParser();
  const out: Parsed[] = [];
  const want = opts.responses ?? 1;
  let cur: Parsed | null = null;
  const sink = {
    onHead: (status: number, headers: string[]) => (cur = { status, headers, body: '', keepAlive: false }),
    onBody: (b: Buffer) => (cur!.body += b.toString('latin1')),
    onComplete: (keepAlive: boolean, idleMs: number | null) => {
      cur!.keepAlive = keepAlive;
      if (idleMs !== null) cur!.idleMs = idleMs;
      out.push(cur!);
      if (out.length < want) p.expect(sink, opts.head ?? false);
    },
  };
  p.expect(sink, opts.head ?? false);
  const bytes = Buffer.from(wire, 'latin1');
  const cuts = [0, ...(opts.cuts ?? []), bytes.length];
  for (let i = 1; i < cuts.length; i++) if (cuts[i]! > cuts[i - 1]!) p.execute(bytes.subarray(cuts[i - 1], cuts[i]));
  if (opts.close) p.end();
  return out;
}

/** The same response parsed whole, cut at every single position, and byte by byte: all must agree. */
function parseEveryWay(wire: string, opts: { head?: boolean; close?: boolean; responses?: number } = {}): Parsed[] {
  const whole = parse(wire, opts);
  for (let c = 1; c < wire.length; c++) assert.deepEqual(parse(wire, { ...opts, cuts: [c] }), whole, `cut at ${c}`);
  assert.deepEqual(parse(wire, { ...opts, cuts: Array.from({ length: wire.length }, (_, i) => i) }), whole, 'byte by byte');
  return whole;
}

test('Content-Length bodies, headers raw in order (repeated ones kept), keep-alive by default in HTTP/1.1', () => {
  const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty:\r\n\r\nhello';
  assert.deepEqual(parseEveryWay(wire), [
    { status: 200, headers: ['Content-Length', '5', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'X-Empty', ''], body: 'hello', keepAlive: true },
  ]);
});

test('chunked bodies with extensions and trailers; chunked wins over a Content-Length, which costs the connection', () => {
  const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n';
  assert.deepEqual(parseEveryWay(wire)[0]!.body, 'Wikipedia in \r\n\r\nchunks.');
  assert.equal(parseEveryWay(wire)[0]!.keepAlive, true);
  const both = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n';
  assert.deepEqual(parseEveryWay(both)[0]!, { status: 200, headers: ['Content-Length', '100', 'Transfer-Encoding', 'chunked'], body: 'ok', keepAlive: false });
});

test('no body: HEAD (whatever its Content-Length), 204, 304; interim 1xx responses are skipped', () => {
  assert.deepEqual(parseEveryWay('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', { head: true })[0]!.body, '');
  assert.equal(parseEveryWay('HTTP/1.1 204 No Content\r\n\r\n')[0]!.status, 204);
  assert.equal(parseEveryWay('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n')[0]!.body, '');
  const interim = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
  assert.deepEqual(parseEveryWay(interim), [{ status: 201, headers: ['Content-Length', '2'], body: 'ok', keepAlive: true }]);
});

test('no length: the body runs until the server closes, and the connection is not reused; HTTP/1.0 and Connection: close', () => {
  assert.deepEqual(parseEveryWay('HTTP/1.1 200 OK\r\n\r\nall of it', { close: true }), [{ status: 200, headers: [], body: 'all of it', keepAlive: false }]);
  assert.equal(parseEveryWay('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok')[0]!.keepAlive, false);
  assert.equal(parseEveryWay('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok')[0]!.keepAlive, true);
  assert.equal(parseEveryWay('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok')[0]!.keepAlive, false);
  assert.equal(parseEveryWay('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz', { close: true })[0]!.keepAlive, false);
});

test("the server's Keep-Alive timeout is passed on, for the client to drop the connection before the server does", () => {
  assert.equal(parseEveryWay('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n')[0]!.idleMs, 5000);
  assert.equal(parseEveryWay('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')[0]!.idleMs, undefined);
});

test('header values: optional whitespace around them trimmed, nothing else; UTF-8 bytes decoded as UTF-8 (as undici reads them)', () => {
  const wire = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nX-A: \t a b \t\r\nX-B: '),
    Buffer.from('voilà\u00a0Ω'),
    Buffer.from('\r\nX-C:\u000bv\u000c\r\nContent-Length: 0\r\n\r\n'),
  ]).toString('latin1');
  assert.deepEqual(parseEveryWay(wire)[0]!.headers, ['X-A', 'a b', 'X-B', 'voilà\u00a0Ω', 'X-C', '\u000bv\u000c', 'Content-Length', '0']);
});

test('two responses in a row on one connection, each after its request', () => {
  const wire = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb';
  assert.deepEqual(
    parseEveryWay(wire, { responses: 2 }).map((r) => [r.status, r.body]),
    [
      [200, 'a'],
      [404, 'b'],
    ],
  );
});

test('malformed responses are refused, naming what is wrong', () => {
  const bad: [string, RegExp, { close?: boolean }?][] = [
    ['HTTP/2 200 OK\r\n\r\n', /bad status line "HTTP\/2 200 OK"/],
    ['HTTP/1.1 2000 OK\r\n\r\n', /bad status line/],
    ['HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n', /obsolete line folding/],
    ['HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n', /bad header line "Bad Name: 1"/],
    ['HTTP/1.1 200 OK\r\nno colon\r\n\r\n', /bad header line/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n', /bad Content-Length "1e3"/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', /conflicting Content-Length/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size line "zz"/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n', /chunk data longer than its size/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab', /1 bytes arrived with no request waiting/],
    ['HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 5\r\n\r\n', /bare CR or LF in a header line/],
    ['HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n', /bare CR or LF in a header line/],
    ['HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\nContent-Length: 0\r\n\r\n', /NUL in a header/],
    // Bare-LF line endings are not accepted (RFC 9112 lets a recipient, undici refuses them): said at
    // once, not left to wait for a CRLFCRLF that never comes and end as a timeout.
    ['HTTP/1.1 200 OK\nContent-Length: 2\n\nok', /lines end in a bare LF/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\n\nok', /lines end in a bare LF/],
    ['HTTP/1.1 101 Switching Protocols\r\n\r\n', /101 Switching Protocols/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', /closed the connection before the response ended/, { close: true }],
    [`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`, /exceed 65536 bytes/],
    // Trailer lines each under the line cap, without end: refused once they add up to a head's cap.
    [`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${'X-T: 1234567890\r\n'.repeat(4000)}`, /trailer fields exceed 65536 bytes/],
  ];
  // Trailers under the cap still end the response.
  const trailed = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n${'X-T: 1\r\n'.repeat(1000)}\r\n`;
  assert.equal(parse(trailed)[0]!.body, 'ok');
  const bareLf = 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok';
  for (let c = 1; c < bareLf.length; c++) assert.throws(() => parse(bareLf, { cuts: [c] }), /bare LF/, `cut at ${c}`);
  for (const [wire, message, opts] of bad) {
    assert.throws(
      () => parse(wire, opts),
      (err: Error) => err instanceof HttpParseError && message.test(err.message),
      wire.slice(0, 60),
    );
  }
});
