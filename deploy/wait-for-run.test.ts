import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { it } from 'node:test';

it('wait-for-run waits through an unready HQ and a running state, then exits 0 when finished', async () => {
  const answers = [503, 'waiting', 'running', 'finished'];
  let i = 0;
  const server = createServer((_req, res) => {
    const a = answers[Math.min(i++, answers.length - 1)];
    if (typeof a === 'number') return void res.writeHead(a).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ progress: { state: a } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
  const child = spawn(process.execPath, [join(import.meta.dirname, 'wait-for-run.mjs')], {
    env: { ...process.env, OCT_HQ_STATUS_URL: url, OCT_POLL_MS: '20' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.on('exit', r));
  server.close();
  assert.equal(code, 0);
  assert.match(out, /state=HTTP 503[\s\S]*state=running[\s\S]*state=finished/);
});
