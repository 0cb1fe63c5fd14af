import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const OCT = join(import.meta.dirname, '..', 'bin', 'oct.js');
const oct = (...args: string[]) => spawnSync(process.execPath, [OCT, ...args], { encoding: 'utf8', timeout: 60_000 });

function script(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'oct-check-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 's.ts'), body);
  return join(dir, 's.ts');
}

test('oct check runs exactly --iterations across canons, printing each result and its timers', () => {
  const s = script(`import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private ctx: TransactionContext) {}
  async run() { await this.ctx.timer('step', async () => {}); if (this.ctx.data.fail) throw new Error('asked to fail'); }
}`);
  const ok = oct('check', s, '-n', '7', '-c', '3');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.match(/^#\d+/gm)?.length, 7);
  assert.match(ok.stdout, /step=/);
  assert.match(ok.stdout, /7 iterations, 0 errors/);
  const failing = oct('check', s, '-n', '2', '--context', '{"fail": true}');
  assert.equal(failing.status, 4);
  assert.match(failing.stdout, /ERROR.*asked to fail/);
});

test('oct check: a script that cannot load exits 3 naming the file; bad arguments exit 2', () => {
  const broken = script('export class Transaction { run( { }');
  const r = oct('check', broken);
  assert.equal(r.status, 3);
  assert.match(r.stdout, /s\.ts/);
  assert.equal(oct('check', broken, '-n', '0').status, 2);
  assert.equal(oct('check', broken, '--context', '{nope').status, 2);
  assert.equal(oct('check').status, 2);
});
