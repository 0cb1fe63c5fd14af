// Follows a run on the cluster through the HQ's /status (via the API server's service proxy) until
// it finishes or fails. The HQ may restart meanwhile: its run state is in Postgres, so a status it
// cannot give now is simply asked for again.
import type { Progress } from '../hq/lifecycle.ts';
import { hqGet, type Kube } from './kube.ts';

export async function followRun(kube: Kube, release: string, onProgress: (p: Progress) => void, pollMs = 2000): Promise<'finished' | 'failed'> {
  for (;;) {
    let status: { progress?: Progress } | undefined;
    try {
      status = JSON.parse(await hqGet(kube, release, '/status')) as { progress?: Progress };
    } catch {
      status = undefined;
    }
    if (status?.progress) {
      onProgress(status.progress);
      if (status.progress.state === 'finished' || status.progress.state === 'failed') return status.progress.state;
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
