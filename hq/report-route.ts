// /report and /report/summary.json on the HQ's HTTP server: the run's report as stored in the
// database, so it can be fetched after the test (and on Kubernetes, after the turrets are gone).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/types.ts';

export function reportRoute(store: Store, runId: () => number | null, artifact: string, contentType: string) {
  return async (_req: IncomingMessage, res: ServerResponse) => {
    const id = runId();
    const body = id === null ? null : await store.getArtifact(id, artifact);
    if (!body) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`no ${artifact} yet${id === null ? '' : ` for run ${id}`}: the report is written when the run ends\n`);
      return;
    }
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  };
}
