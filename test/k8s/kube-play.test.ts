// The chart's own pods, run for real: a project rendered by `oct deploy PROJECT --render` and
// `helm template`, converted only where podman 4.3 cannot play it (kube-play-convert.ts), then
// played with `podman kube play` on a network of its own: the built-in Postgres, the HQ, two
// turrets, the report Job. One turret is scaled up by a pod mid-run and back down (SIGTERM with
// its grace period). Checked from Postgres, the HQ's /report, the pods' exit codes, and `oct
// status`/`oct report fetch` through the stand-in API server.
// OCT_KUBE_PLAY_KEEP=1 leaves the pods, volumes and network in place after the test, to look at.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../common/log.ts';
import type { Store } from '../../store/types.ts';
import { openStore } from '../../store/open.ts';
import { oct } from '../support/processes.ts';
import { missingTools, PODMAN_TOOLS } from '../support/system-tools.ts';
import { until } from '../support/until.ts';
import { helm } from './helm-tool.ts';
import { Player } from './kube-play.ts';
import { convertRelease, type Plan, type PlayPod, type Workload } from './kube-play-convert.ts';
import { parseManifests } from './manifests.ts';
import type { Ran } from './podman.ts';
import { type StandIn, startStandIn } from './stand-in-apiserver.ts';
import { acquireTestImages, type TestImages } from './test-images.ts';

const missing = missingTools(PODMAN_TOOLS);
const skip = missing && !process.env.CI ? `kube-play test skipped: ${missing}` : false;

const id = `kp${process.pid}`;
const RELEASE = id;
const NAMESPACE = 'load';
const RUN_TIME = 30;

// Every iteration leaves a line in the pod's own /tmp (an emptyDir), in a file named by the
// turret's uuid: the turrets' count of what they ran, to hold against what Postgres stored.
const SCRIPT = `import { appendFileSync, mkdirSync } from 'node:fs';
import type { TransactionContext } from 'oct';
mkdirSync('/tmp/oct-counts', { recursive: true });
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private ctx: TransactionContext) {}
  // Long iterations, so the SIGTERM of a scale-down lands with iterations in flight.
  async run() { await new Promise((r) => setTimeout(r, 100 + Math.random() * 150)); }
  async tearDown() { appendFileSync('/tmp/oct-counts/' + this.ctx.turret.uuid, '1\\n'); }
}
`;

/** The turrets' counts: uuid → iterations, read from a turret pod's /tmp directory. */
function counts(pod: PlayPod): Map<string, number> {
  const tmp = pod.hostDirs.find((d) => d.path.endsWith('/tmp'));
  assert.ok(tmp, `${pod.name} has no /tmp emptyDir`);
  const dir = join(tmp.path, 'oct-counts');
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) out.set(f, readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).length);
  return out;
}

describe('the chart played under podman', { skip, timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'oct-kube-play-'));
  const player = new Player(`oct-${id}`, join(work, 'play'));
  let images: TestImages;
  let releaseImages = async () => {};
  let plan: Plan;
  let api: StandIn | undefined;
  let store: Store | undefined;

  const byComponent = (component: string, turret?: string): Workload => {
    const w = plan.workloads.filter((x) => x.labels['app.kubernetes.io/component'] === component && (!turret || x.labels['oct/turret'] === turret));
    assert.equal(w.length, 1, `one ${component}${turret ? ` ${turret}` : ''} workload, got ${w.map((x) => x.name)}`);
    return w[0];
  };

  /** Everything a failure needs to be understood: each played container's state and log tail. */
  async function diagnose(): Promise<string> {
    const lines: string[] = [];
    for (const pod of player.pods) {
      for (const c of [...pod.initContainers, ...pod.containers]) {
        const state = await player.inspect(pod.name, c, '{{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}}').catch(() => 'gone');
        const logs = await player.containerLogs(pod.name, c);
        lines.push(`--- ${pod.name}/${c} (${pod.owner}): ${state}\n${(logs.stdout + logs.stderr).split('\n').slice(-15).join('\n')}`);
      }
    }
    return lines.join('\n');
  }
  async function check(what: string, cond: () => Promise<boolean> | boolean, timeoutMs: number) {
    try {
      await until(cond, timeoutMs, what);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await diagnose()}`);
    }
  }
  /** Waits for a pod's probes to pass, as the kubelet would before the pod counts as ready. */
  async function ready(pod: PlayPod, timeoutMs = 60_000) {
    for (const p of pod.probes) {
      let last = '';
      await check(
        `${pod.name}/${p.container} ${p.kind}`,
        async () => {
          const r = await player.probe(pod, p);
          last = r.detail;
          return r.ok || (await new Promise((res) => setTimeout(() => res(false), 500)));
        },
        timeoutMs,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\nlast probe: ${last}`);
      });
    }
  }

  before(async () => {
    assert.equal(missing, null, missing ?? '');
    ({ images, release: releaseImages } = await acquireTestImages());
    mkdirSync(player.workDir);
  });
  after(async () => {
    await store?.close();
    await api?.close();
    if (process.env.OCT_KUBE_PLAY_KEEP) return console.log(`kept: network ${player.network}, pods ${player.pods.map((p) => p.name)}`);
    await player.cleanup();
    rmSync(work, { recursive: true, force: true });
    await releaseImages();
  });

  it('renders the project with oct deploy --render and converts what podman cannot play', async () => {
    const project = join(work, 'project');
    mkdirSync(join(project, 'test_scripts'), { recursive: true });
    writeFileSync(join(project, 'test_scripts', 'v_user.ts'), SCRIPT);
    writeFileSync(
      join(project, 'config.json'),
      JSON.stringify({
        run_time: RUN_TIME,
        results_ts_interval: 1,
        min_turrets: 2,
        turrets: [
          { name: 'steady', canons: 3, rampup: 0, script: 'test_scripts/v_user.ts' },
          { name: 'scaled', canons: 3, rampup: 0, script: 'test_scripts/v_user.ts' },
        ],
      }),
    );
    const [tag, repo] = [(i: string) => i.split(':')[1], (i: string) => i.split(':')[0]];
    writeFileSync(
      join(work, 'images.yaml'),
      JSON.stringify({
        image: { hq: { repository: repo(images.hq), tag: tag(images.hq) }, turret: { repository: repo(images.turret), tag: tag(images.turret) } },
        database: { builtin: { image: { repository: repo(images.postgres), tag: tag(images.postgres) } } },
      }),
    );
    const rendered = await oct(['deploy', project, '--render', join(work, 'chart'), '--values', join(work, 'images.yaml')]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const t = helm(['template', RELEASE, join(work, 'chart'), '--namespace', NAMESPACE]);
    assert.equal(t.code, 0, t.stderr);
    let n = 0;
    plan = convertRelease(parseManifests(t.stdout), {
      namespace: NAMESPACE,
      hostDir: (pod, volume) => join(player.workDir, 'pods', pod, volume),
      // A Deployment's pods get a suffix of their own, as the ReplicaSet gives them.
      podSuffix: () => `${(n++).toString(36).padStart(5, '0')}`,
    });
    assert.deepEqual(plan.workloads.map((w) => `${w.kind}/${w.labels['app.kubernetes.io/component']}`).sort(), [
      'Deployment/hq',
      'Deployment/turret',
      'Deployment/turret',
      'Job/report',
      'StatefulSet/database',
    ]);
  });

  it('plays the database, the HQ, the turrets and the report Job; scales a turret up and down mid-run', async () => {
    await player.createNetwork();
    const db = byComponent('database').pod(0);
    await player.playOk(db);
    await ready(db);

    const hqWorkload = byComponent('hq');
    const hq = hqWorkload.pod(0);
    await player.playOk(hq);
    await ready(hq);

    const steady = byComponent('turret', 'steady');
    const scaled = byComponent('turret', 'scaled');
    const turretPods = [...Array(steady.replicas)].map((_, i) => steady.pod(i)).concat([...Array(scaled.replicas)].map((_, i) => scaled.pod(i)));
    for (const p of turretPods) await player.playOk(p);

    // The report Job's pod: its init container waits for the run to end, and holds kube play as long.
    const report = byComponent('report').pod(0);
    const reportPlay: Promise<Ran> = player.play(report);

    const hqUrl = `http://${await player.podIp(hq.name)}:${hq.probes.find((p) => p.httpGet)!.httpGet!.port}`;
    const state = async () =>
      ((await (await fetch(`${hqUrl}/status`)).json().catch(() => ({}))) as { progress?: { state?: string; elapsedSeconds?: number } }).progress;
    await check('the run to start with both turrets', async () => (await state())?.state === 'running', 90_000);

    // kubectl scale --replicas=2, then back to 1: a pod joins mid-run and fires; it then leaves.
    const joined = scaled.pod(scaled.replicas);
    await player.playOk(joined);
    await check('the joined pod to fire', () => counts(joined).size === 1, 30_000);
    await new Promise((r) => setTimeout(r, 2000));
    const elapsedAtStop = (await state())?.elapsedSeconds ?? 0;
    assert.ok(elapsedAtStop < RUN_TIME - 5, `the scale-down lands mid-run (at ${elapsedAtStop} s of ${RUN_TIME})`);
    await player.stop(joined);
    assert.equal(await player.inspect(joined.name, 'turret', '{{.State.ExitCode}}'), '0', `the scaled-down turret exits 0 on SIGTERM\n${await diagnose()}`);

    await check('the run to finish', async () => (await state())?.state === 'finished', (RUN_TIME + 60) * 1000);
    const played = await reportPlay;
    assert.equal(played.code, 0, `kube play of the report pod:\n${played.stdout}${played.stderr}`);
    await check('the report pod to exit', async () => (await player.inspect(report.name, 'report', '{{.State.Status}}')) === 'exited', 60_000);
    assert.equal(await player.inspect(report.name, 'report', '{{.State.ExitCode}} restarts={{.RestartCount}}'), '0 restarts=0', await diagnose());

    // What the turrets counted is what Postgres stored, per turret; the joined pod is in it, and
    // the pod that left on SIGTERM flushed and ended as killed (a clean leave), not lost.
    const dbUrl = new URL(plan.secrets.get(`${RELEASE}-oct-db`)!.get('url')!.toString('utf8'));
    assert.equal(dbUrl.hostname, `${RELEASE}-oct-db`, 'the database URL names the database Service');
    dbUrl.hostname = await player.podIp(db.name);
    store = await openStore({ databaseUrl: dbUrl.toString(), log: createLogger({ level: 'error' }) });
    const [run] = await store.sql.query<{ id: number; state: string }>('SELECT id, state FROM runs WHERE name = $1', [`${RELEASE}-1`]);
    assert.equal(run?.state, 'finished');
    const counted = new Map([...turretPods, joined].flatMap((p) => [...counts(p)]));
    const joinedUuid = [...counts(joined).keys()][0];
    assert.equal(counted.size, 3, `three turret processes counted iterations: ${[...counted.keys()]}`);
    const stored = await store.sql.query<{ turret_uuid: string; n: number }>(
      'SELECT turret_uuid, count(*)::int AS n FROM results WHERE run_id = $1 GROUP BY 1',
      [run.id],
    );
    assert.deepEqual(new Map(stored.map((r) => [r.turret_uuid, r.n])), counted, 'stored rows per turret == iterations each turret counted');
    assert.ok((counted.get(joinedUuid) ?? 0) > 0, 'the joined pod fired');
    const changes = await store.sql.query<{ status: string }>('SELECT status FROM turret_status_changes WHERE run_id = $1 AND uuid = $2 ORDER BY at', [
      run.id,
      joinedUuid,
    ]);
    const statuses = changes.map((c) => c.status);
    assert.ok(statuses.includes('running'), `the joined pod was started: ${statuses}`);
    assert.equal(statuses.at(-1), 'killed', `the scaled-down pod left with its final status: ${statuses}`);
    assert.ok(!statuses.includes('lost'), `never lost: ${statuses}`);

    // The report Job's results.html is stored (written after its container started) and served.
    const reportStarted = new Date(await player.inspect(report.name, 'report', '{{.State.StartedAt}}'));
    const [artifact] = await store.sql.query<{ created_at: Date; html: string }>(
      "SELECT created_at, convert_from(content, 'UTF8') AS html FROM artifacts WHERE run_id = $1 AND name = 'results.html'",
      [run.id],
    );
    assert.ok(artifact, 'results.html is stored');
    assert.ok(artifact.created_at.getTime() >= reportStarted.getTime() - 1000, `stored by the report pod (${artifact.created_at} vs started ${reportStarted})`);
    assert.ok(artifact.html.includes(joinedUuid), 'the report lists the joined pod');
    const served = await fetch(`${hqUrl}/report`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), artifact.html, 'the HQ serves the stored report at /report');

    // oct status and oct report fetch, through an API server that holds the rendered Service and
    // the pods as podman runs them, and proxies to the HQ pod.
    api = await startStandIn();
    const svc = `${RELEASE}-oct-hq`;
    api.put('services', NAMESPACE, { metadata: { name: svc, labels: hqServiceLabels(plan, svc) } });
    for (const p of [db, hq, ...turretPods, joined, report]) {
      const status = await player.inspect(p.name, p.containers[0], '{{.State.Status}}');
      api.put('pods', NAMESPACE, {
        metadata: { name: p.name, labels: p.labels },
        spec: { containers: p.containers.map((name) => ({ name })) },
        status: {
          phase: status === 'running' ? 'Running' : 'Succeeded',
          containerStatuses: p.containers.map((name) => ({ name, ready: status === 'running', restartCount: 0 })),
        },
      });
    }
    api.proxy.set(`${svc}:http`, async (path) => {
      const r = await fetch(`${hqUrl}${path}`);
      return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? undefined };
    });
    const k = ['--kubeconfig', api.kubeconfig, '--release', RELEASE];
    const status = await oct(['status', ...k]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /run: finished/);
    assert.match(status.stdout, new RegExp(`${hq.name}\\s+hq`));
    const out = join(work, 'fetched');
    const fetched = await oct(['report', 'fetch', ...k, '--out', out]);
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(readFileSync(join(out, 'results.html'), 'utf8'), artifact.html);
  });
});

function hqServiceLabels(plan: Plan, name: string): Record<string, string> {
  const s = plan.services.find((x) => x.name === name);
  assert.ok(s, `Service ${name} is rendered`);
  return s.labels;
}
