// The kube-play converter on small objects: kubelet-style $(VAR) expansion, Secrets used every way
// a pod can use them, and the loud refusals (an unknown field, a Service an alias cannot stand in
// for). The chart itself is converted and played in kube-play.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertRelease, expandVars, UnsupportedManifest } from './kube-play-convert.ts';
import type { Manifest } from './manifests.ts';

const opts = { namespace: 'load', hostDir: (pod: string, vol: string) => `/h/${pod}/${vol}`, podSuffix: (_w: string, i: number) => `x${i}` };
const labels = { app: 'a' };
const deployment = (podSpec: Record<string, unknown>): Manifest =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'a' },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { automountServiceAccountToken: false, ...podSpec } } },
  }) as Manifest;
const secret: Manifest = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'keys' },
  type: 'Opaque',
  data: { 'server.key': Buffer.from('S3CRET').toString('base64') },
  stringData: { url: 'postgres://u:p@db:5432/x' },
} as Manifest;

describe('kube-play converter', () => {
  it('expands $(VAR) as the kubelet does', () => {
    const vars = new Map([
      ['A', 'x'],
      ['B', '$(A)'],
    ]);
    assert.equal(expandVars('--url=$(A) $(B) $(NOPE) $$(A) $$ $ a$', vars), '--url=x $(A) $(NOPE) $(A) $ $ a$');
    assert.equal(expandVars('$(A', vars), '$(A');
  });

  it('makes Secret env, envFrom and volumes literal, and expands args with them', () => {
    const plan = convertRelease(
      [
        secret,
        deployment({
          securityContext: { fsGroup: 10001 },
          containers: [
            {
              name: 'c',
              image: 'i',
              args: ['--db', '$(DB)', '--pod', '$(POD)'],
              envFrom: [{ secretRef: { name: 'keys' }, prefix: 'K_' }],
              env: [
                { name: 'DB', valueFrom: { secretKeyRef: { name: 'keys', key: 'url' } } },
                { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              volumeMounts: [{ name: 'k', mountPath: '/keys', readOnly: true }],
            },
          ],
          volumes: [{ name: 'k', secret: { secretName: 'keys', items: [{ key: 'server.key', path: 'curve/server.key' }], defaultMode: 0o400 } }],
        }),
      ],
      opts,
    );
    const pod = plan.workloads[0].pod(0);
    assert.equal(pod.name, 'a-x0');
    assert.match(pod.yaml, /- --db\n\s+- postgres:\/\/u:p@db:5432\/x\n\s+- --pod\n\s+- a-x0/);
    assert.match(pod.yaml, /name: K_server.key\n\s+value: S3CRET/);
    assert.doesNotMatch(pod.yaml, /secretKeyRef|secretName|envFrom/);
    assert.deepEqual(pod.hostDirs, [
      { path: '/h/a-x0/k', mode: 0o755, gid: 10001, files: [{ path: 'curve/server.key', content: Buffer.from('S3CRET'), mode: 0o440 }] },
    ]);
  });

  const refusals: [string, Manifest[], RegExp][] = [
    ['an unknown pod field', [deployment({ hostNetwork: true, containers: [] })], /Deployment\/a\.spec\.template\.spec\.hostNetwork: unknown field/],
    ['an unknown container field', [deployment({ containers: [{ name: 'c', image: 'i', lifecycle: {} }] })], /spec\.containers\[0\]\.lifecycle: unknown field/],
    ['an unknown kind', [{ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c' } } as Manifest], /CronJob\/c: apiVersion\/kind batch\/v1\/CronJob/],
    [
      'a missing Secret key',
      [secret, deployment({ containers: [{ name: 'c', image: 'i', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'keys', key: 'nope' } } }] }] })],
      /Secret keys key nope is not in the rendered objects/,
    ],
    [
      'a Service that maps ports',
      [
        deployment({ containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }] }),
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] } } as Manifest,
      ],
      /Service\/s: port 80 → 8080: a network alias cannot map ports/,
    ],
  ];
  for (const [what, ms, message] of refusals) {
    it(`fails loudly on ${what}`, () => {
      assert.throws(
        () => {
          for (const w of convertRelease(ms, opts).workloads) w.pod(0);
        },
        (e: Error) => e instanceof UnsupportedManifest && message.test(e.message),
      );
    });
  }
});
