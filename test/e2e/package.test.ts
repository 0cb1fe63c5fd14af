// The published package as a user gets it: `npm pack` of this checkout, installed globally into a
// temporary prefix, then its `oct` bin makes a project and runs it. Catches a `files` list that
// leaves out something read at run time (scaffold, report template, chart, worker and hook
// modules) and a tarball that ships tests or benchmarks.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { runProgram } from '../support/processes.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
// Read at run time through import.meta.url rather than imported, so nothing but a run would notice them missing.
const RUNTIME_FILES = [
  'bin/oct.js',
  'index.ts',
  'cli/scaffold/config.json',
  'cli/scaffold/test_scripts/v_user.ts',
  'report/templates/report.html',
  'charts/oct/Chart.yaml',
  'turret/resolve-hook.mjs',
  'store/pglite-worker-boot.mjs',
];

const work = mkdtempSync(join(tmpdir(), 'oct-package-'));
after(() => rmSync(work, { recursive: true, force: true }));
// The installed bin is `#!/usr/bin/env node`: the node running this test must be the one it finds.
const env = { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };

test('npm pack ships what users run and no tests; the tarball installed with npm i -g runs new-project and run', { timeout: 180_000 }, async () => {
  const packed = await runProgram('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, env, timeoutMs: 30_000 });
  assert.equal(packed.code, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  const paths = info.files.map((f) => f.path);
  assert.deepEqual(
    paths.filter((p) => p.endsWith('.test.ts') || /^(test|bench)\//.test(p)),
    [],
    'tests or benchmarks in the tarball',
  );
  assert.deepEqual(
    RUNTIME_FILES.filter((f) => !paths.includes(f)),
    [],
    'files read at run time missing from the tarball',
  );

  // --offline first (no network when the cache has everything); npm ci caches tarballs but not the
  // registry metadata a tarball install resolves against, so fall back to the registry.
  const prefix = join(work, 'prefix');
  const install = (mode: string) =>
    runProgram('npm', ['install', '--global', '--prefix', prefix, join(work, info.filename), mode, '--no-audit', '--no-fund'], {
      cwd: work,
      env,
      timeoutMs: 90_000,
    });
  let installed = await install('--offline');
  if (installed.code !== 0) installed = await install('--prefer-offline');
  assert.equal(installed.code, 0, installed.stderr);
  const bin = join(prefix, 'bin', 'oct');
  assert.ok(existsSync(bin), `no ${bin} after install`);

  const made = await runProgram(bin, ['new-project', 'demo'], { cwd: work, env, timeoutMs: 30_000 });
  assert.equal(made.code, 0, made.stderr);
  const configPath = join(work, 'demo', 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  // Any free port: the scaffold's fixed ports may be taken by another test or program.
  Object.assign(config, { publish_port: 0, rc_port: 0, http_port: 0 });
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const ran = await runProgram(bin, ['run', 'demo', '--run-time', '2', '--no-progress'], { cwd: work, env, timeoutMs: 60_000 });
  assert.equal(ran.code, 0, `oct run exited ${ran.code}\n${ran.stdout}\n${ran.stderr}`);
  const results = join(work, 'demo', 'results');
  const runs = readdirSync(results).filter((d) => d.startsWith('results_'));
  assert.equal(runs.length, 1, `runs in ${results}: ${runs.join(', ')}`);
  const report = join(results, runs[0]!, 'results.html');
  assert.ok(existsSync(report) && statSync(report).size > 0, `no report at ${report}`);
});
