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

test('the control token: /status redacts turret uuids without it; a guarded route answers 401 without or with a wrong one', async () => {
  const { ControlAuth, newControlToken } = await import('./control-auth.ts');
  const token = newControlToken();
  const auth = new ControlAuth(token);
  const http = await HqHttpServer.listen({ port: 0, host: '127.0.0.1', log: memoryLogger(), auth });
  try {
    http.setSource({
      ready: async () => ({ ok: true, detail: 'ok' }),
      status: () => ({
        turrets: [
          { uuid: 'secret-uuid', name: 'a' },
          { uuid: 'other-uuid', name: '' },
        ],
        live: { turrets: { a: { transactions: 1 }, 'other-uuid': { transactions: 2 } } },
      }),
    });
    const open = await get(http.port, '/status');
    assert.doesNotMatch(open.body, /secret-uuid|other-uuid/);
    assert.deepEqual(JSON.parse(open.body).live.turrets, { a: { transactions: 1 }, 'turret-2': { transactions: 2 } });
    const full = await fetch(`http://127.0.0.1:${http.port}/status`, { headers: { authorization: `Bearer ${token}` } });
    assert.match(await full.text(), /secret-uuid/);
    let calls = 0;
    http.addRoute(
      '/guarded',
      auth.guard((_req, res) => {
        calls++;
        res.end('done');
      }),
    );
    const missing = await get(http.port, '/guarded');
    assert.equal(missing.status, 401);
    assert.match(missing.body, /needs the run's control token/);
    for (const headers of [{ authorization: `Bearer ${token}x` }, { authorization: 'Basic abc' }, { 'x-oct-token': token.slice(1) }] as Record<
      string,
      string
    >[]) {
      const r = await fetch(`http://127.0.0.1:${http.port}/guarded`, { headers });
      assert.equal(r.status, 401);
      assert.match(await r.text(), /wrong control token/);
    }
    assert.equal(calls, 0, 'nothing ran without the token');
    const ok = await fetch(`http://127.0.0.1:${http.port}/guarded`, { headers: { 'x-oct-token': token } });
    assert.equal(await ok.text(), 'done');
    assert.equal(calls, 1);
    assert.throws(() => new ControlAuth('short'), /at least 16/);
  } finally {
    await http.close();
  }
});
