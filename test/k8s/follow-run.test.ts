// `oct deploy --wait` follows the run through the HQ's /status behind the API server's service
// proxy: it keeps asking through an HQ that does not answer (a restart) and ends with the run.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { followRun } from '../../deploy/follow-run.ts';
import { connect } from '../../deploy/kube.ts';
import { seedDemoRelease } from './demo-release.ts';
import { type StandIn, startStandIn } from './stand-in-apiserver.ts';

let api: StandIn;
before(async () => {
  api = await startStandIn();
  seedDemoRelease(api);
});
after(() => api.close());

test('follows the run to its end, through an HQ that is restarting', async () => {
  const answers: Array<{ status: number; body: string }> = [
    { status: 503, body: 'restarting' },
    { status: 200, body: JSON.stringify({ progress: { state: 'running', elapsedSeconds: 1, runTime: 3 } }) },
    { status: 200, body: 'not json' },
    { status: 200, body: JSON.stringify({ progress: { state: 'draining', elapsedSeconds: 3, runTime: 3 } }) },
    { status: 200, body: JSON.stringify({ progress: { state: 'finished', elapsedSeconds: 3, runTime: 3 } }) },
  ];
  let asked = 0;
  api.proxy.set('demo-oct-hq:http', (path) => {
    assert.equal(path, '/status');
    return answers[Math.min(asked++, answers.length - 1)]!;
  });
  const kube = await connect({ kubeconfig: api.kubeconfig, namespace: 'load' });
  const seen: string[] = [];
  const state = await followRun(kube, 'demo', (p) => seen.push(p.state), 10);
  assert.equal(state, 'finished');
  assert.deepEqual(seen, ['running', 'draining', 'finished']);
  assert.equal(asked, answers.length);
});
