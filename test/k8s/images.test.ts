// Builds Dockerfile.hq and Dockerfile.turret with podman from a base image made on this machine
// (no registry), then runs a short test: an HQ container and a turret container on one podman
// network, the turret finding the HQ by container name as it finds the Service on Kubernetes.
// Both run as in the chart: non-root, read-only root filesystem, a tmpfs on /tmp.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeys, turretKeysOf, writeKeysDir, writeTurretKeys } from '../../common/keys-dir.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { missingTools, PODMAN_TOOLS } from '../support/system-tools.ts';
import { must, run } from './podman.ts';
import { acquireTestImages, type TestImages } from './test-images.ts';

// In CI the tools are installed by scripts/install-system-deps.sh: a missing one is a failure there,
// named with its package, never a silent skip.
const missing = missingTools(PODMAN_TOOLS);
const skip = missing && !process.env.CI ? `image test skipped: ${missing}` : false;

const work = mkdtempSync(join(tmpdir(), 'oct-images-'));
const tag = `t${process.pid}`;

const SCRIPT = `export class Transaction {
  customTimers: Record<string, number> = {};
  async run(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20));
  }
}
`;

describe('images', { skip, timeout: 300_000 }, () => {
  let images: TestImages;
  let releaseImages = async () => {};
  let hqImage = '';
  let turretImage = '';
  const net = `oct-net-${tag}`;
  const hqName = `oct-hq-${tag}`;
  const turretName = `oct-turret-${tag}`;

  before(async () => {
    assert.equal(missing, null, missing ?? '');
    // Built here, or once by scripts/test.mjs for this test and kube-play.test.ts.
    ({ images, release: releaseImages } = await acquireTestImages());
    ({ hq: hqImage, turret: turretImage } = images);
  });
  after(async () => {
    await run('podman', ['rm', '-f', '-t', '0', hqName, turretName]);
    await run('podman', ['network', 'rm', '-f', net]);
    await releaseImages();
    rmSync(work, { recursive: true, force: true });
  });

  it('builds both images, non-root', async () => {
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
    const hqKeys = join(work, 'hq-keys');
    const turretKeys = join(work, 'turret-keys');
    for (const d of [project, files, turretDir]) mkdirSync(d, { recursive: true });
    // CURVE as the chart sets it up: each side gets only its files, mounted at /etc/oct-keys.
    const keys = generateKeys();
    writeKeysDir(hqKeys, keys);
    rmSync(join(hqKeys, 'turret.key'));
    writeTurretKeys(turretKeys, turretKeysOf(keys));
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
        keys_dir: '/etc/oct-keys',
        turrets: [{ name: 'box', canons: 2, rampup: 0, script: '/app/project/files/v_user.ts' }],
      }),
    );
    writeFileSync(
      join(turretDir, 'turret.json'),
      JSON.stringify({
        name: 'box',
        canons: 2,
        rampup: 0,
        script: '/app/project/files/v_user.ts',
        hq_address: hqName,
        hq_publisher: 5000,
        hq_rc: 5001,
        keys_dir: '/etc/oct-keys',
      }),
    );
    // The containers run as uid 10001: the mounted files must be readable by it.
    for (const d of [work, project, files, turretDir, hqKeys, turretKeys]) chmodSync(d, 0o755);
    for (const [d, f] of [
      [hqKeys, 'hq.key'],
      [turretKeys, 'turret.key'],
    ] as const)
      chmodSync(join(d, f), 0o644);

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
      '-v',
      `${hqKeys}:/etc/oct-keys:ro`,
      hqImage,
      'hq',
      '--config',
      '/etc/oct/config.json',
      '--exit-when-done',
    ]);
    await must('podman', [
      'run',
      '-d',
      '--name',
      turretName,
      ...common,
      '-v',
      `${turretDir}:/etc/oct-turret:ro`,
      '-v',
      `${turretKeys}:/etc/oct-keys:ro`,
      turretImage,
    ]);

    const waited = await run('podman', ['wait', hqName], { timeoutMs: 150_000 });
    const logs = await run('podman', ['logs', hqName]);
    const turretLogs = await run('podman', ['logs', turretName]);
    assert.equal(waited.stdout.trim(), '0', `HQ exit ${waited.stdout}\nHQ:\n${logs.stdout}${logs.stderr}\nturret:\n${turretLogs.stdout}${turretLogs.stderr}`);
    assert.match(logs.stdout, /run \d+ finished: [1-9]\d* transactions, 0 errors/);
    assert.doesNotMatch(logs.stdout + logs.stderr, /CURVE is OFF/);

    // Scale-down on Kubernetes: SIGTERM, and the turret exits cleanly after flushing.
    await must('podman', ['stop', '-t', '20', turretName]);
    assert.equal(await must('podman', ['inspect', '--format', '{{.State.ExitCode}}', turretName]), '0');
  });
});
