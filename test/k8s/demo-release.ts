// A release named "demo" in namespace "load" as the stand-in API server holds it (HQ service, a
// turret deployment and pods, a claim, logs, proxied HQ routes), plus a turret of another release
// that commands on "demo" must leave alone.
import type { StandIn } from './stand-in-apiserver.ts';

const labels = (component: string, more: Record<string, string> = {}) => ({
  'app.kubernetes.io/instance': 'demo',
  'app.kubernetes.io/part-of': 'oct',
  'app.kubernetes.io/component': component,
  ...more,
});

export function seedDemoRelease(api: StandIn): void {
  api.put('services', 'load', { metadata: { name: 'demo-oct-hq', labels: labels('hq') } });
  api.put('deployments', 'load', { metadata: { name: 'demo-oct-turret-nav-1', labels: labels('turret', { 'oct/turret': 'nav_1' }) }, spec: { replicas: 2 } });
  api.put('deployments', 'load', {
    metadata: { name: 'other-oct-turret-nav-1', labels: { ...labels('turret', { 'oct/turret': 'nav_1' }), 'app.kubernetes.io/instance': 'other' } },
    spec: { replicas: 1 },
  });
  api.put('pods', 'load', {
    metadata: { name: 'demo-oct-hq-abc', labels: labels('hq') },
    spec: { containers: [{ name: 'hq' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'hq', ready: true, restartCount: 1 }] },
  });
  api.put('pods', 'load', {
    metadata: { name: 'demo-oct-turret-nav-1-x', labels: labels('turret', { 'oct/turret': 'nav_1' }) },
    spec: { containers: [{ name: 'turret' }] },
    status: { phase: 'Pending', containerStatuses: [{ name: 'turret', ready: false, restartCount: 0 }] },
  });
  api.put('persistentvolumeclaims', 'load', { metadata: { name: 'data-demo-oct-db-0', labels: { 'app.kubernetes.io/instance': 'demo' } } });
  api.logs.set('demo-oct-hq-abc', 'line 1\nline 2\nline 3\n');
  api.proxy.set('demo-oct-hq:http', (path) =>
    path === '/status'
      ? {
          status: 200,
          body: JSON.stringify({
            progress: {
              state: 'running',
              elapsedSeconds: 5,
              runTime: 30,
              turrets: { total: 2, byState: { running: 2 } },
              canonsRunning: 4,
              transactions: 120,
              errors: 1,
              ratePerSecond: 24,
              malformed: 0,
            },
            turrets: [
              { name: 'nav_1', state: 'running', results: 60 },
              { name: 'nav_1', state: 'running', results: 60 },
            ],
          }),
        }
      : path === '/report'
        ? { status: 200, body: '<html>report</html>', type: 'text/html' }
        : { status: 404, body: 'not found' },
  );
}
