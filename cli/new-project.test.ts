import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseProjectConfig } from '../protocol/config.ts';

const OCT = join(import.meta.dirname, '..', 'bin', 'oct.js');

test('oct new-project scaffolds a project whose config parses, and refuses to overwrite', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'oct-np-')), 'demo');
  const first = spawnSync(process.execPath, [OCT, 'new-project', dir], { encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  for (const f of ['config.json', 'package.json', '.gitignore', 'test_scripts/v_user.ts', 'templates/README.md']) assert.ok(existsSync(join(dir, f)), f);
  const config = parseProjectConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  assert.equal(config.turrets.length, 2);
  assert.equal(config.run_time, 30);
  const again = spawnSync(process.execPath, [OCT, 'new-project', dir], { encoding: 'utf8' });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /exists and is not empty/);
});

test('oct --help and oct new-project --help describe the command with an example', () => {
  const help = spawnSync(process.execPath, [OCT, 'new-project', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Examples:/);
  const unknown = spawnSync(process.execPath, [OCT, 'no-such-command'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
});
