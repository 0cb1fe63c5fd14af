#!/usr/bin/env node
// The test command: type-check, start one throwaway Postgres for the whole run, then run every
// *.test.ts with node's test runner (through tsx). Extra arguments are passed to node --test
// (e.g. `npm test -- --test-name-pattern=legacy`) or name test files to run instead of all.
import { execFileSync, spawn } from 'node:child_process';
import { startCluster } from './pg-cluster.mjs';

const args = process.argv.slice(2);
const files = args.filter((a) => a.endsWith('.ts'));
const flags = args.filter((a) => !a.endsWith('.ts'));

if (!files.length) {
  console.log('type-checking…');
  execFileSync('npx', ['tsc', '--noEmit', '-p', '.'], { stdio: 'inherit' });
}
const testFiles = files.length
  ? files
  : execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.test.ts'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .sort();

let cluster = null;
if (!process.env.OCT_TEST_DATABASE_URL) {
  cluster = await startCluster();
  process.env.OCT_TEST_DATABASE_URL = cluster.url;
}
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...flags, ...testFiles], { stdio: 'inherit' });
const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
cluster?.stop();
process.exit(code);
