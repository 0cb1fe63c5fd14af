// Plays converted pods (kube-play-convert.ts) with `podman kube play` on one podman network of
// their own, and remembers everything it created so that `cleanup` removes exactly that: the pods,
// their named volumes, the network and the host directories.
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PlayPod, Probe } from './kube-play-convert.ts';
import { podman, type Ran, run } from './podman.ts';

export class Player {
  readonly pods: PlayPod[] = [];
  private readonly volumes = new Set<string>();
  private networkMade = false;
  /** Ends a `kube play` still waiting on an init container when the test gives up. */
  private readonly plays = new AbortController();

  constructor(
    readonly network: string,
    readonly workDir: string,
  ) {}

  async createNetwork(): Promise<void> {
    await podman(['network', 'create', this.network]);
    this.networkMade = true;
  }

  private materialize(pod: PlayPod): string {
    for (const d of pod.hostDirs) {
      mkdirSync(d.path, { recursive: true });
      chmodSync(d.path, d.mode);
      if (d.gid !== undefined) chownSync(d.path, 0, d.gid);
      for (const f of d.files) {
        const p = join(d.path, f.path);
        mkdirSync(dirname(p), { recursive: true, mode: 0o755 });
        writeFileSync(p, f.content);
        chmodSync(p, f.mode);
        if (d.gid !== undefined) chownSync(p, 0, d.gid);
      }
    }
    const file = join(this.workDir, `${pod.name}.yaml`);
    writeFileSync(file, pod.yaml);
    return file;
  }

  /**
   * `podman kube play` of one pod with its Services' names as network aliases. Resolves when
   * podman returns, which is after the init containers ended: a pod whose init container waits
   * holds it that long.
   */
  play(pod: PlayPod): Promise<Ran> {
    const file = this.materialize(pod);
    this.pods.push(pod);
    for (const v of pod.volumes) this.volumes.add(v);
    // Podman resolves no Service names; aliases on the pods a Service selects stand in for it.
    const net = pod.aliases.length ? `${this.network}:${pod.aliases.map((a) => `alias=${a}`).join(',')}` : this.network;
    return run('podman', ['kube', 'play', '--network', net, file], { timeoutMs: 240_000, signal: this.plays.signal });
  }

  async playOk(pod: PlayPod): Promise<void> {
    const r = await this.play(pod);
    if (r.code !== 0) throw new Error(`podman kube play ${pod.name} (${pod.owner}) exited ${r.code}:\n${r.stdout}${r.stderr}`);
  }

  async podIp(pod: string): Promise<string> {
    const infra = await podman(['pod', 'inspect', pod, '--format', '{{.InfraContainerID}}']);
    return podman(['inspect', infra, '--format', `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`]);
  }

  /** A probe run once as the kubelet runs it: an HTTP GET of the pod's IP, or the command in the container. */
  async probe(pod: PlayPod, p: Probe): Promise<{ ok: boolean; detail: string }> {
    if (p.httpGet) {
      const url = `http://${await this.podIp(pod.name)}:${p.httpGet.port}${p.httpGet.path}`;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        // The kubelet counts 200-399 as success.
        return { ok: res.status >= 200 && res.status < 400, detail: `${url}: HTTP ${res.status}` };
      } catch (err) {
        return { ok: false, detail: `${url}: ${(err as Error).message}` };
      }
    }
    const r = await run('podman', ['exec', `${pod.name}-${p.container}`, ...p.exec!.command], { timeoutMs: 10_000 });
    return { ok: r.code === 0, detail: `${p.exec!.command.join(' ')}: exit ${r.code} ${r.stdout}${r.stderr}`.trim() };
  }

  containerLogs(pod: string, container: string): Promise<Ran> {
    return run('podman', ['logs', `${pod}-${container}`]);
  }

  async inspect(pod: string, container: string, format: string): Promise<string> {
    return podman(['inspect', `${pod}-${container}`, '--format', format]);
  }

  /**
   * Scale-down of one pod as the kubelet does it: SIGTERM to the app containers, SIGKILL after the
   * grace period, and only then the sandbox. `podman pod stop -t GRACE` alone stops the infra
   * container (the pod's network) alongside them: a turret draining its last results after SIGTERM
   * lost them and the HQ marked it lost (found by this test, podman 4.3.1).
   */
  async stop(pod: PlayPod): Promise<void> {
    await podman(['stop', '-t', String(pod.grace), ...pod.containers.map((c) => `${pod.name}-${c}`)], { timeoutMs: (pod.grace + 30) * 1000 });
    await podman(['pod', 'stop', '-t', '0', pod.name]);
  }

  async cleanup(): Promise<void> {
    this.plays.abort();
    for (const p of [...this.pods].reverse()) await run('podman', ['pod', 'rm', '-f', '-t', '0', p.name]);
    if (this.volumes.size) await run('podman', ['volume', 'rm', '-f', ...this.volumes]);
    if (this.networkMade) await run('podman', ['network', 'rm', '-f', this.network]);
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
