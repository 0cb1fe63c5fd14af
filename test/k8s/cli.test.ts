// The Kubernetes commands through the real `oct` binary: render + helm template for a project
// made by `oct new-project`, and status/scale/report-fetch/logs against the stand-in API server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHART_DIR } from '../../deploy/chart.ts';
import { seedDemoRelease } from './demo-release.ts';
import { ensureHelm, helm } from './helm-tool.ts';
import { parseManifests, validateManifest } from './manifests.ts';
import { type StandIn, startStandIn } from './stand-in-apiserver.ts';

const OCT = join(CHART_DIR, '..', '..', 'bin', 'oct.js');

function oct(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [OCT, ...args], { cwd, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('oct deploy --render', () => {
  it('renders a chart that helm template turns into valid manifests for a new project', async () => {
    ensureHelm();
    const dir = mkdtempSync(join(tmpdir(), 'oct-render-'));
    assert.equal((await oct(['new-project', 'demo'], {}, dir)).code, 0);
    const r = await oct(['deploy', 'demo', '--render', 'out'], {}, dir);
    assert.equal(r.code, 0, r.stderr);
    const t = helm(['template', 'demo', join(dir, 'out'), '--namespace', 'load']);
    assert.equal(t.code, 0, t.stderr);
    const ms = parseManifests(t.stdout);
    assert.deepEqual((await Promise.all(ms.map(validateManifest))).flat(), []);
    const turrets = ms.filter((m) => m.kind === 'Deployment' && m.metadata.labels?.['app.kubernetes.io/component'] === 'turret').map((m) => m.metadata.name);
    assert.deepEqual(turrets, ['demo-oct-turret-navigation', 'demo-oct-turret-random']);
    const files = ms.find((m) => m.metadata.name === 'demo-oct-files') as unknown as { data: Record<string, string> };
    assert.equal(files.data['test_scripts_v_user.ts'], readFileSync(join(dir, 'demo', 'test_scripts', 'v_user.ts'), 'utf8'));
    assert.equal(helm(['lint', '--strict', join(dir, 'out')]).code, 0);
  });

  it('merges --values files into the rendered chart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oct-render-'));
    await oct(['new-project', 'demo'], {}, dir);
    const values = join(dir, 'v.yaml');
    (await import('node:fs')).writeFileSync(values, 'database:\n  mode: external\n  external: {existingSecret: db}\n');
    assert.equal((await oct(['deploy', 'demo', '--render', 'out', '--values', values], {}, dir)).code, 0);
    assert.match(readFileSync(join(dir, 'out', 'values.yaml'), 'utf8'), /existingSecret: db/);
    const refused = await oct(['deploy', 'demo', '--render', 'out2', '--set', 'a=b'], {}, dir);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--set does not apply with --render/);
  });

  it('says clearly when helm is missing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oct-render-'));
    await oct(['new-project', 'demo'], {}, dir);
    const r = await oct(['deploy', 'demo'], { OCT_HELM: join(dir, 'no-helm-here') }, dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /helm not found .* Install Helm/);
  });
});

describe('oct status/scale/report-fetch/logs against the stand-in API server', () => {
  let api: StandIn;
  let k: string[];
  before(async () => {
    api = await startStandIn();
    seedDemoRelease(api);
    k = ['--kubeconfig', api.kubeconfig, '--release', 'demo'];
  });
  after(() => api.close());

  it('status shows the run, the turrets and the pods', async () => {
    const r = await oct(['status', ...k]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /release demo \(namespace load\)/);
    assert.match(r.stdout, /run: running .*transactions: 120/);
    assert.match(r.stdout, /turrets connected: 2 \(running 2\)/);
    assert.match(r.stdout, /demo-oct-turret-nav-1-x\s+turret\/nav_1 0\/1\s+Pending/);
  });

  it('scale sets the turret Deployment replicas', async () => {
    const r = await oct(['scale', 'nav_1', '4', ...k]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment\/demo-oct-turret-nav-1 scaled from \d+ to 4/);
    assert.equal((api.get('deployments', 'load', 'demo-oct-turret-nav-1')!.spec as { replicas: number }).replicas, 4);
    const bad = await oct(['scale', 'nav_1', '-1', ...k]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /replicas must be a whole number >= 0, got -1/);
  });

  it('report-fetch writes results.html', async () => {
    const out = mkdtempSync(join(tmpdir(), 'oct-report-'));
    const r = await oct(['report-fetch', ...k, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'results.html'), 'utf8'), '<html>report</html>');
  });

  it('report-fetch explains a missing release', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'oct-report-')), 'x');
    const r = await oct(['report-fetch', '--kubeconfig', api.kubeconfig, '--release', 'gone', '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no oct release "gone" in namespace load/);
    assert.ok(!existsSync(out));
  });

  it('logs prints the HQ log', async () => {
    const r = await oct(['logs', ...k, '--tail', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line 2\nline 3\n');
  });
});
