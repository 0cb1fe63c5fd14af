// Builds Dockerfile.hq and Dockerfile.turret with podman from a base image made on this machine
// (no registry), then runs a short test: an HQ container and a turret container on one podman
// network, the turret finding the HQ by container name as it finds the Service on Kubernetes.
// Both run as in the chart: non-root, read-only root filesystem, a tmpfs on /tmp.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHART_DIR } from '../../deploy/chart.ts';
import { missingTools, PODMAN_TOOLS } from '../support/system-tools.ts';

const ROOT = join(CHART_DIR, '..', '..');
// In CI the tools are installed by scripts/install-system-deps.sh: a missing one is a failure there,
// named with its package, never a silent skip.
const missing = missingTools(PODMAN_TOOLS);
const skip = missing && !process.env.CI ? `image test skipped: ${missing}` : false;

const work = mkdtempSync(join(tmpdir(), 'oct-images-'));
const containersConf = join(work, 'containers.conf');
writeFileSync(
  containersConf,
  '[engine]\nruntime="runc"\ncgroup_manager="cgroupfs"\n[containers]\ndefault_ulimits=["nofile=16384:16384","nproc=16384:16384"]\n',
);
const env = { ...process.env, CONTAINERS_CONF: containersConf };
const tag = `t${process.pid}`;

function run(cmd: string, args: string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
async function must(cmd: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

const SCRIPT = `export class Transaction {
  customTimers: Record<string, number> = {};
  async run(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
  }
}
`;

describe('images', { skip, timeout: 300_000 }, () => {
  const base = `localhost/oct-test-base:${tag}`;
  const hqImage = `localhost/oct-hq:${tag}`;
  const turretImage = `localhost/oct-turret:${tag}`;
  const net = `oct-net-${tag}`;
  const hqName = `oct-hq-${tag}`;
  const turretName = `oct-turret-${tag}`;

  before(async () => {
    assert.equal(missing, null, missing ?? '');
    await must('bash', [join(ROOT, 'test/k8s/make-base-image.sh'), base]);
  });
  after(async () => {
    await run('podman', ['rm', '-f', '-t', '0', hqName, turretName]);
    await run('podman', ['network', 'rm', '-f', net]);
    await run('podman', ['rmi', '-f', hqImage, turretImage, base]);
  });

  // npm ci runs offline from the host's npm cache (filled by the project's own npm ci), mounted
  // as an overlay so the build never writes to it.
  const build = (file: string, image: string) => {
    const cache = join(homedir(), '.npm');
    assert.ok(existsSync(join(cache, '_cacache')), `no npm cache at ${cache}: run npm ci first`);
    return must('podman', [
      'build',
      '-q',
      '-f',
      file,
      '--network',
      'none',
      '--build-arg',
      `BASE_IMAGE=${base}`,
      '--build-arg',
      'NPM_FLAGS=--offline --cache /npm-cache',
      '-v',
      `${cache}:/npm-cache:O`,
      '-t',
      image,
      '.',
    ]);
  };

  it('builds both images, non-root', async () => {
    await build('Dockerfile.hq', hqImage);
    await build('Dockerfile.turret', turretImage);
    for (const image of [hqImage, turretImage]) {
      assert.equal(await must('podman', ['image', 'inspect', '--format', '{{.Config.User}}', image]), '10001:10001');
    }
    // Tests and dev tooling stay out of the images.
    const listing = await must('podman', ['run', '--rm', '--entrypoint', 'ls', turretImage, '/app', '/app/node_modules']);
    assert.doesNotMatch(listing, /\.test\.ts|typescript|fast-check|kubernetes-models/);
    assert.match(listing, /zeromq/);
  });

  it('runs a short test: HQ and turret containers over a podman network', async () => {
    const project = join(work, 'project');
    const files = join(work, 'files');
    const turretDir = join(work, 'turret');
    for (const d of [project, files, turretDir]) mkdirSync(d, { recursive: true });
    writeFileSync(join(files, 'v_user.ts'), SCRIPT);
    writeFileSync(
      join(project, 'config.json'),
      JSON.stringify({
        run_time: 4,
        min_turrets: 1,
        turrets_wait_timeout: 90,
        publish_port: 5000,
        rc_port: 5001,
        http_port: 8080,
        progress_bar: false,
        turrets: [{ name: 'box', canons: 2, rampup: 0, script: '/app/project/files/v_user.ts' }],
      }),
    );
    writeFileSync(
      join(turretDir, 'turret.json'),
      JSON.stringify({ name: 'box', canons: 2, rampup: 0, script: '/app/project/files/v_user.ts', hq_address: hqName, hq_publisher: 5000, hq_rc: 5001 }),
    );
    // The containers run as uid 10001: the mounted files must be readable by it.
    for (const d of [work, project, files, turretDir]) chmodSync(d, 0o755);

    await must('podman', ['network', 'create', net]);
    const common = [
      '--network',
      net,
      '--read-only',
      '--tmpfs',
      '/tmp:rw,mode=1777',
      '--security-opt',
      'no-new-privileges',
      '--cap-drop',
      'ALL',
      '-v',
      `${files}:/app/project/files:ro`,
    ];
    await must('podman', [
      'run',
      '-d',
      '--name',
      hqName,
      ...common,
      '-v',
      `${project}:/etc/oct:ro`,
      hqImage,
      'hq',
      '--config',
      '/etc/oct/config.json',
      '--exit-when-done',
    ]);
    await must('podman', ['run', '-d', '--name', turretName, ...common, '-v', `${turretDir}:/etc/oct-turret:ro`, turretImage]);

    const waited = await run('podman', ['wait', hqName], 150_000);
    const logs = await run('podman', ['logs', hqName]);
    const turretLogs = await run('podman', ['logs', turretName]);
    assert.equal(waited.stdout.trim(), '0', `HQ exit ${waited.stdout}\nHQ:\n${logs.stdout}${logs.stderr}\nturret:\n${turretLogs.stdout}${turretLogs.stderr}`);
    assert.match(logs.stdout, /run \d+ finished: [1-9]\d* transactions, 0 errors/);

    // Scale-down on Kubernetes: SIGTERM, and the turret exits cleanly after flushing.
    await must('podman', ['stop', '-t', '20', turretName]);
    assert.equal(await must('podman', ['inspect', '--format', '{{.State.ExitCode}}', turretName]), '0');
  });
});
