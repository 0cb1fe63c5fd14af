import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { memoryLogger } from '../common/log.ts';
import { HqHttpServer, startHttpServer } from './http-server.ts';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

test('healthz, readyz, status and added routes', async () => {
  let ready = { ok: false, detail: 'store unreachable: boom' };
  const http = await HqHttpServer.listen({ port: 0, host: '127.0.0.1', log: memoryLogger() });
  try {
    assert.equal((await get(http.port, '/healthz')).status, 200);
    assert.equal((await get(http.port, '/readyz')).status, 503, 'not ready before an HQ is attached');
    assert.equal((await get(http.port, '/status')).status, 503);
    http.setSource({ ready: async () => ready, status: () => ({ state: 'running', turrets: 2 }) });
    const notReady = await get(http.port, '/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /boom/);
    ready = { ok: true, detail: 'ok' };
    assert.equal((await get(http.port, '/readyz')).status, 200);
    const status = await get(http.port, '/status?x=1');
    assert.deepEqual(JSON.parse(status.body), { state: 'running', turrets: 2 });
    http.addRoute('/metrics', (_req, res) => {
      res.end('oct_up 1\n');
    });
    assert.equal((await get(http.port, '/metrics')).body, 'oct_up 1\n');
    http.addRoute('/boom', () => {
      throw new Error('handler bug');
    });
    assert.equal((await get(http.port, '/boom')).status, 500);
    assert.equal((await get(http.port, '/nope')).status, 404);
  } finally {
    await http.close();
  }
});

test('a busy port falls back to a random one only when allowed', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    await assert.rejects(startHttpServer({ port, host: '127.0.0.1', log: memoryLogger() }), /EADDRINUSE/);
    const http = await startHttpServer({ port, host: '127.0.0.1', log: memoryLogger(), fallbackToRandomPort: true });
    assert.notEqual(http.port, port);
    await http.close();
  } finally {
    blocker.close();
  }
});
