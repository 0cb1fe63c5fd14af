// Control of a running test over HTTP: POST /control/stop and POST /control/target, behind the
// control token. A request is read with a size cap (413), parsed in protocol/control.ts (400), and
// acted on through the HQ — the stop through the lifecycle, a new target through the load plan —
// or refused when the run cannot take it (409); nothing changes on any refusal. Every action taken
// is stored with the run (who, when, what) and listed by the dashboard and the report.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/log.ts';
import { type ControlRequest, MAX_CONTROL_BODY_BYTES, parseControlBody } from '../protocol/control.ts';
import type { ControlAction, Store } from '../store/types.ts';
import type { ControlAuth } from './control-auth.ts';

/** What run-control needs of the HQ. */
export interface Controllable {
  readonly runId: number;
  requestStop(reason: string): void;
  retarget(target: number): Promise<{ from: number; to: number; model: string }>;
  progress(): { elapsedSeconds: number };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

class BodyTooLarge extends Error {}

/** The body as text, refusing (without reading on) one above `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class RunControl {
  private readonly actions: ControlAction[] = [];

  constructor(
    private readonly hq: Controllable,
    private readonly store: Store,
    private readonly auth: ControlAuth,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Actions taken through this HQ, oldest first. */
  history(): readonly ControlAction[] {
    return this.actions;
  }

  route(kind: 'stop' | 'target') {
    return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        return sendJson(res, 405, { error: `${req.method} not allowed: POST a JSON body to /control/${kind}` });
      }
      if (!this.auth.admit(req, res)) return;
      let body: string;
      try {
        body = await readBody(req, MAX_CONTROL_BODY_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          res.setHeader('connection', 'close');
          return sendJson(res, 413, { error: `body: larger than ${MAX_CONTROL_BODY_BYTES} bytes` });
        }
        throw err;
      }
      const parsed = parseControlBody(kind, body);
      if (!parsed.ok) return sendJson(res, 400, { error: parsed.error });
      const origin = req.socket.remoteAddress ?? 'unknown';
      let detail: Record<string, unknown>;
      try {
        detail = await this.act(parsed.request);
      } catch (err) {
        return sendJson(res, 409, { error: (err as Error).message });
      }
      const action: ControlAction = {
        at: new Date(this.clock.now()),
        elapsed: Math.round(this.hq.progress().elapsedSeconds * 1000) / 1000,
        action: kind,
        by: parsed.request.by ?? 'anonymous',
        origin,
        detail,
      };
      this.actions.push(action);
      this.log.warn('control action', { action: kind, by: action.by, origin, detail: JSON.stringify(detail) });
      try {
        await this.store.recordControlAction(this.hq.runId, action);
      } catch (err) {
        // The action happened; the history kept in memory still shows it on the dashboard.
        this.log.error('could not store a control action', { error: err as Error });
      }
      sendJson(res, 200, { ok: true, action: { ...action, at: action.at.toISOString() } });
    };
  }

  private async act(r: ControlRequest): Promise<Record<string, unknown>> {
    if (r.kind === 'stop') {
      const reason = r.reason ?? 'stopped from the dashboard';
      this.hq.requestStop(reason);
      return { reason };
    }
    return this.hq.retarget(r.target);
  }
}
