// The chart through the real helm binary: lint, render every example, validate every object
// offline against the Kubernetes API types, and check the schema's refusals.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CHART_DIR } from '../../deploy/chart.ts';
import { helm } from './helm-tool.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readHqKeys, readTurretKeys } from '../../common/keys-dir.ts';
import { type Manifest, parseManifests, validateManifest } from './manifests.ts';

const EXAMPLES = join(CHART_DIR, '..', '..', 'k8s-examples');
const exampleFiles = readdirSync(EXAMPLES)
  .filter((f) => /^values-.*\.yaml$/.test(f))
  .map((f) => join(EXAMPLES, f));
const minimal = [
  '--set',
  'turrets[0].name=nav_1',
  '--set',
  'turrets[0].canons=2',
  '--set',
  'turrets[0].script=s/a.ts',
  '--set',
  'files[0].path=s/a.ts',
  '--set',
  'files[0].content=x',
];

function template(args: string[]): Manifest[] {
  const r = helm(['template', 'demo', CHART_DIR, '--namespace', 'load', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return parseManifests(r.stdout);
}

async function assertValid(ms: Manifest[]) {
  const problems = (await Promise.all(ms.map(validateManifest))).flat();
  assert.deepEqual(problems, []);
}

const podSpecs = (ms: Manifest[]) =>
  ms.flatMap((m) => {
    const spec = m.spec as { template?: { spec: PodSpec } } | undefined;
    return spec?.template ? [{ name: `${m.kind}/${m.metadata.name}`, pod: spec.template.spec }] : [];
  });
interface Container {
  name: string;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: unknown; limits?: unknown };
  volumeMounts?: { mountPath: string }[];
}
interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean };
  containers: Container[];
  initContainers?: Container[];
}

describe('chart', () => {
  it('passes helm lint --strict with defaults and every example', () => {
    for (const f of [undefined, ...exampleFiles]) {
      const r = helm(['lint', '--strict', CHART_DIR, ...(f ? ['--values', f] : [])]);
      assert.equal(r.code, 0, `${f}: ${r.stdout}${r.stderr}`);
    }
  });

  for (const f of exampleFiles) {
    it(`renders valid objects for ${f.split('/').pop()}`, async () => {
      const ms = template(['--values', f]);
      assert.ok(ms.length >= 8);
      await assertValid(ms);
    });
  }

  it('renders valid objects with every optional part on', async () => {
    const ms = template([
      ...minimal,
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.podMonitor.enabled=true',
      '--set',
      'turretsRequirements[0]=left-pad@1',
      '--set',
      'files[1].path=bin/x.dat',
      '--set',
      'files[1].base64=AP8=',
    ]);
    await assertValid(ms);
    assert.ok(ms.some((m) => m.kind === 'ServiceMonitor') && ms.some((m) => m.kind === 'PodMonitor'));
  });

  it('every container is non-root, read-only, with resources and a writable /tmp', () => {
    for (const { name, pod } of podSpecs(template(minimal))) {
      assert.equal(pod.securityContext?.runAsNonRoot, true, name);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}/${c.name}`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}/${c.name}`);
        assert.ok(c.resources?.requests && c.resources?.limits, `${name}/${c.name} resources`);
      }
      for (const c of pod.containers)
        assert.ok(
          c.volumeMounts?.some((v) => v.mountPath === '/tmp'),
          `${name}/${c.name} /tmp`,
        );
    }
  });

  it('gives each turret a Deployment with its replicas, a DNS-safe name and the HQ Service address', () => {
    const ms = template(['--values', join(EXAMPLES, 'values-large.yaml'), '--set', 'turrets[0].name=Big_One.x']);
    const turrets = ms.filter((m) => m.kind === 'Deployment' && m.metadata.labels?.['app.kubernetes.io/component'] === 'turret');
    assert.deepEqual(
      turrets.map((m) => [m.metadata.name, (m.spec as { replicas: number }).replicas, m.metadata.labels?.['oct/turret']]),
      [
        ['demo-oct-turret-big-one-x', 20, 'Big_One.x'],
        ['demo-oct-turret-search', 15, 'search'],
        ['demo-oct-turret-checkout', 5, 'checkout'],
      ],
    );
    const cm = ms.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'demo-oct-turrets') as Manifest & { data: Record<string, string> };
    const cfg = JSON.parse(cm.data['Big_One.x.json']);
    assert.deepEqual(
      { address: cfg.hq_address, pub: cfg.hq_publisher, rc: cfg.hq_rc, script: cfg.script, canons: cfg.canons, rampup: cfg.rampup },
      { address: 'demo-oct-hq.load.svc', pub: 5000, rc: 5001, script: '/app/project/files/test_scripts/browse.ts', canons: 50, rampup: 120 },
    );
    const hq = ms.find((m) => m.kind === 'Deployment' && m.metadata.name === 'demo-oct-hq') as Manifest & {
      spec: { replicas: number; strategy: { type: string } };
    };
    assert.deepEqual([hq.spec.replicas, hq.spec.strategy.type], [1, 'Recreate']);
    const hqCfg = JSON.parse(
      (ms.find((m) => m.metadata.name === 'demo-oct-hq' && m.kind === 'ConfigMap') as unknown as { data: Record<string, string> }).data['config.json'],
    );
    assert.equal(hqCfg.min_turrets, 40);
    assert.equal(hqCfg.turrets.length, 3);
  });

  it('rolls the turret pods when a script changes, not otherwise', () => {
    const checksum = (content: string) => {
      const d = template([...minimal, '--set', `files[0].content=${content}`]).find((m) => m.metadata.name === 'demo-oct-turret-nav-1') as unknown as {
        spec: { template: { metadata: { annotations: Record<string, string> } } };
      };
      return d.spec.template.metadata.annotations['checksum/files'];
    };
    assert.equal(checksum('one'), checksum('one'));
    assert.notEqual(checksum('one'), checksum('two'));
  });

  it('lets only the turrets reach the PUB and PULL ports', () => {
    const np = template(minimal).find((m) => m.kind === 'NetworkPolicy' && m.metadata.name === 'demo-oct-hq') as unknown as {
      spec: { ingress: { from?: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] };
    };
    const zmq = np.spec.ingress.find((r) => r.ports.some((p) => p.port === 5000))!;
    assert.deepEqual(
      zmq.ports.map((p) => p.port),
      [5000, 5001],
    );
    assert.equal(zmq.from?.[0].podSelector.matchLabels['app.kubernetes.io/component'], 'turret');
  });

  it('uses the external database Secret and renders no Postgres', () => {
    const ms = template(['--values', join(EXAMPLES, 'values-external-postgres.yaml')]);
    assert.ok(!ms.some((m) => m.kind === 'StatefulSet'));
    const hq = podSpecs(ms).find((p) => p.name === 'Deployment/demo-oct-hq')!.pod.containers[0] as unknown as {
      env: { name: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
    };
    assert.deepEqual(hq.env.find((e) => e.name === 'OCT_DATABASE_URL')?.valueFrom?.secretKeyRef, { name: 'oct-database', key: 'url' });
  });

  it('generates the CURVE keys into a Secret, mounts each side only its files, and the keys work', async () => {
    const ms = template(minimal);
    await assertValid(ms);
    const secret = ms.find((m) => m.kind === 'Secret' && m.metadata.name === 'demo-oct-keys') as unknown as { stringData: Record<string, string> };
    assert.ok(secret, 'the keys Secret');
    assert.deepEqual(Object.keys(secret.stringData).sort(), ['hq.key', 'hq.pub', 'turret.key', 'turret.pub']);
    type KeyedPod = PodSpec & { volumes: { name: string; secret?: { secretName: string; items: { key: string }[] } }[] };
    const pods = podSpecs(ms) as unknown as { name: string; pod: KeyedPod }[];
    // Write each pod's files as the kubelet would, and read them as the HQ and the turret do.
    const mounted = (name: string) => {
      const pod = pods.find((p) => p.name === name)!.pod;
      const vol = pod.volumes.find((v) => v.name === 'keys')!;
      assert.equal(vol.secret!.secretName, 'demo-oct-keys');
      assert.ok(
        pod.containers[0]!.volumeMounts!.some((m) => m.mountPath === '/etc/oct-keys'),
        `${name} mounts the keys`,
      );
      const dir = mkdtempSync(join(tmpdir(), 'oct-chart-keys-'));
      for (const { key } of vol.secret!.items) writeFileSync(join(dir, key), secret.stringData[key]!);
      return { dir, files: vol.secret!.items.map((i) => i.key).sort() };
    };
    const hqFiles = mounted('Deployment/demo-oct-hq');
    const turretFiles = mounted('Deployment/demo-oct-turret-nav-1');
    assert.deepEqual(hqFiles.files, ['hq.key', 'hq.pub', 'turret.pub'], 'the HQ never gets the turret secret');
    assert.deepEqual(turretFiles.files, ['hq.pub', 'turret.key', 'turret.pub'], 'a turret never gets the HQ secret');
    const hq = readHqKeys(hqFiles.dir);
    const turret = readTurretKeys(turretFiles.dir);
    assert.equal(turret.hqPublicKey, hq.hq.publicKey, "the turret trusts the HQ's key");
    assert.deepEqual(hq.trusted, [turret.turret.publicKey], "the HQ trusts the turret's key");
    // Both configs point at the mount.
    const configs = ms.filter((m) => m.kind === 'ConfigMap').flatMap((m) => Object.values((m as unknown as { data: Record<string, string> }).data));
    const keysDirs = configs.filter((c) => c.trim().startsWith('{')).map((c) => (JSON.parse(c) as { keys_dir?: string }).keys_dir);
    assert.deepEqual(keysDirs, ['/etc/oct-keys', '/etc/oct-keys']);
  });

  it('curve.existingSecret is mounted instead; curve.enabled=false is the plaintext opt-out', () => {
    const existing = template([...minimal, '--set', 'curve.existingSecret=my-keys']);
    assert.ok(!existing.some((m) => m.kind === 'Secret' && m.metadata.name === 'demo-oct-keys'));
    for (const { pod } of podSpecs(existing).filter((p) => p.name.startsWith('Deployment/'))) {
      const vols = (pod as unknown as { volumes: { name: string; secret?: { secretName: string } }[] }).volumes;
      assert.equal(vols.find((v) => v.name === 'keys')?.secret?.secretName, 'my-keys');
    }
    const off = template([...minimal, '--set', 'curve.enabled=false']);
    assert.ok(!off.some((m) => m.kind === 'Secret' && m.metadata.name === 'demo-oct-keys'));
    const hqConfig = JSON.parse(
      (off.find((m) => m.metadata.name === 'demo-oct-hq' && m.kind === 'ConfigMap') as unknown as { data: { 'config.json': string } }).data['config.json'],
    );
    assert.equal(hqConfig.allow_plaintext, true);
    assert.equal(hqConfig.keys_dir, undefined);
    for (const { pod } of podSpecs(off)) assert.ok(!(pod as unknown as { volumes?: { name: string }[] }).volumes?.some((v) => v.name === 'keys'));
  });

  it('k8s-examples/manifests/first-test.yaml is the current chart rendered', async () => {
    const committed = readFileSync(join(EXAMPLES, 'manifests', 'first-test.yaml'), 'utf8').replace(/^(#.*\n)+/, '');
    const r = helm([
      'template',
      'oct',
      CHART_DIR,
      '-n',
      'load',
      '-f',
      join(EXAMPLES, 'values-first-test.yaml'),
      '--set',
      'database.builtin.password=CHANGE-ME',
      '--set',
      'control.token=CHANGE-ME-CONTROL-TOKEN',
      '--set',
      'curve.existingSecret=oct-keys',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(committed, r.stdout, 'regenerate with the command at the top of the file');
    await assertValid(parseManifests(committed));
  });

  const refusals: [string, string[], RegExp][] = [
    ['a port out of range', ['--set', 'hq.ports.rc=70000'], /\/hq\/ports\/rc': maximum: got 70,000, want 65,535/],
    ['an unknown top-level key', ['--set', 'turret.replicas=2'], /additional properties 'turret' not allowed/],
    ['a turret without canons', ['--set', 'turrets[0].name=a', '--set', 'turrets[0].script=a.ts'], /\/turrets\/0': missing property 'canons'/],
    ['zero canons', [...minimal, '--set', 'turrets[0].canons=0'], /\/turrets\/0\/canons': minimum: got 0, want 1/],
    ['a bad turret name', [...minimal, '--set', 'turrets[0].name=-x'], /\/turrets\/0\/name': '-x' does not match pattern/],
    ['external database without a Secret', ['--set', 'database.mode=external'], /\/database\/external\/existingSecret': minLength: got 0, want 1/],
    ['an unknown database mode', ['--set', 'database.mode=sqlite'], /\/database\/mode': value must be one of 'builtin', 'external'/],
    ['turrets inside config', ['--set', 'config.turrets[0].name=a'], /\/config\/turrets'/],
    [
      'a script missing from files',
      ['--set', 'turrets[0].name=a', '--set', 'turrets[0].canons=1', '--set', 'turrets[0].script=gone.ts'],
      /turret "a" needs "gone.ts", which is not in `files`/,
    ],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} with a clear message`, () => {
      const r = helm(['template', 'demo', CHART_DIR, ...args]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
    });
  }
});
