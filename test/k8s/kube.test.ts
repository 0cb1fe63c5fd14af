// deploy/kube.ts and the commands on it, against the stand-in API server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, hqGet, listPods, podLog, releaseClaims, scaleTurret } from '../../deploy/kube.ts';
import { seedDemoRelease } from './demo-release.ts';
import { type StandIn, startStandIn } from './stand-in-apiserver.ts';

describe('kube layer against the stand-in API server', () => {
  let api: StandIn;
  before(async () => {
    api = await startStandIn();
    seedDemoRelease(api);
  });
  after(() => api.close());

  it("uses the kubeconfig context's namespace and the bearer token", async () => {
    const kube = await connect({ kubeconfig: api.kubeconfig });
    assert.equal(kube.namespace, 'load');
    await listPods(kube, 'demo');
    assert.equal(api.requests.at(-1)?.auth, 'Bearer stand-in-token');
    assert.equal(
      api.requests.at(-1)?.path,
      '/api/v1/namespaces/load/pods?labelSelector=app.kubernetes.io%2Finstance%3Ddemo%2Capp.kubernetes.io%2Fpart-of%3Doct',
    );
  });

  it('lists pods with readiness and restarts', async () => {
    const pods = await listPods(await connect({ kubeconfig: api.kubeconfig }), 'demo');
    assert.deepEqual(pods, [
      { name: 'demo-oct-hq-abc', component: 'hq', turret: undefined, phase: 'Running', ready: '1/1', restarts: 1 },
      { name: 'demo-oct-turret-nav-1-x', component: 'turret', turret: 'nav_1', phase: 'Pending', ready: '0/1', restarts: 0 },
    ]);
  });

  it('scales a turret through the scale subresource, in its own release only', async () => {
    const kube = await connect({ kubeconfig: api.kubeconfig });
    assert.deepEqual(await scaleTurret(kube, 'demo', 'nav_1', 5), { deployment: 'demo-oct-turret-nav-1', from: 2 });
    const put = api.requests.find((r) => r.method === 'PUT')!;
    assert.equal(put.path, '/apis/apps/v1/namespaces/load/deployments/demo-oct-turret-nav-1/scale');
    assert.equal((api.get('deployments', 'load', 'demo-oct-turret-nav-1')!.spec as { replicas: number }).replicas, 5);
    assert.equal((api.get('deployments', 'load', 'other-oct-turret-nav-1')!.spec as { replicas: number }).replicas, 1);
  });

  it('names the known turrets when the one asked for does not exist', async () => {
    await assert.rejects(
      scaleTurret(await connect({ kubeconfig: api.kubeconfig }), 'demo', 'nope', 1),
      /no turret "nope" in release "demo" \(turrets: nav_1\)/,
    );
  });

  it('reads the HQ through the service proxy, HTML and JSON alike', async () => {
    const kube = await connect({ kubeconfig: api.kubeconfig });
    assert.equal(await hqGet(kube, 'demo', '/report'), '<html>report</html>');
    assert.equal(JSON.parse(await hqGet(kube, 'demo', '/status')).progress.state, 'running');
    const proxied = api.requests.filter((r) => r.path.includes('/proxy/'));
    assert.equal(proxied[0].path, '/api/v1/namespaces/load/services/demo-oct-hq:http/proxy/report');
    assert.equal(proxied[0].auth, 'Bearer stand-in-token');
    await assert.rejects(hqGet(kube, 'demo', '/nothing'), /HTTP 404/);
    await assert.rejects(hqGet(kube, 'absent', '/status'), /no oct release "absent" in namespace load/);
  });

  it('reads pod logs and claims', async () => {
    const kube = await connect({ kubeconfig: api.kubeconfig });
    assert.equal(await podLog(kube, 'demo-oct-hq-abc', { tailLines: 2 }), 'line 2\nline 3\n');
    assert.deepEqual(await releaseClaims(kube, 'demo'), ['data-demo-oct-db-0']);
  });
});
