// Who may act on a running test over HTTP. One bearer token per HQ: generated for each local run
// (and printed with the dashboard URL), from the Kubernetes Secret the chart keeps across upgrades
// on a cluster (env OCT_CONTROL_TOKEN). Control endpoints need it; /healthz and /readyz never do
// (probes), /metrics only when protectMetrics is on (Prometheus then sends the token), read-only
// views (/, /events, /status) stay open but say nothing an attacker could use to speak for a
// turret: /status drops turret uuids for callers without the token.
//
// The token is compared in constant time over SHA-256 digests, so neither its content nor its
// length leaks through timing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CONTROL_TOKEN_ENV = 'OCT_CONTROL_TOKEN';
export const PROTECT_METRICS_ENV = 'OCT_PROTECT_METRICS';
/** The header the browser and `oct dashboard` may use instead of Authorization (the API server's proxy keeps it). */
export const TOKEN_HEADER = 'x-oct-token';
const MIN_TOKEN_LENGTH = 16;

export type AuthCheck = 'ok' | 'missing' | 'wrong';

/** 32 random bytes, base64url: printable, safe in a URL fragment and a header. */
export function newControlToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The token given in the environment (the chart's Secret), validated; null when absent. */
export function controlTokenFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const t = env[CONTROL_TOKEN_ENV];
  if (t === undefined || t === '') return null;
  if (t.length < MIN_TOKEN_LENGTH || /\s/.test(t)) throw new Error(`${CONTROL_TOKEN_ENV}: a token of at least ${MIN_TOKEN_LENGTH} characters without spaces`);
  return t;
}

export function protectMetricsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = (env[PROTECT_METRICS_ENV] ?? '').toLowerCase();
  return v === 'true' || v === '1' || v === 'yes';
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The token a request carries: `Authorization: Bearer T`, else `X-Oct-Token: T`. */
export function presentedToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : '';
  }
  const h = req.headers[TOKEN_HEADER];
  if (typeof h === 'string') return h.trim();
  return null;
}

export class ControlAuth {
  private readonly expected: Buffer;

  constructor(
    readonly token: string,
    readonly opts: { protectMetrics: boolean } = { protectMetrics: false },
  ) {
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`control token: at least ${MIN_TOKEN_LENGTH} characters`);
    this.expected = digest(token);
  }

  check(req: IncomingMessage): AuthCheck {
    const given = presentedToken(req);
    if (given === null) return 'missing';
    return timingSafeEqual(digest(given), this.expected) ? 'ok' : 'wrong';
  }

  authorized(req: IncomingMessage): boolean {
    return this.check(req) === 'ok';
  }

  /** Answers 401 (and returns false) unless the request carries the token. */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const c = this.check(req);
    if (c === 'ok') return true;
    res.writeHead(401, { 'content-type': 'application/json; charset=utf-8', 'www-authenticate': 'Bearer realm="oct"', 'cache-control': 'no-store' });
    res.end(
      `${JSON.stringify({
        error:
          c === 'missing'
            ? 'this endpoint needs the run\'s control token: send "Authorization: Bearer TOKEN" (oct run prints it with the dashboard URL)'
            : 'wrong control token',
      })}\n`,
    );
    return false;
  }

  /** A handler that runs only for requests with the token. */
  guard<H extends (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>(handler: H) {
    return (req: IncomingMessage, res: ServerResponse): void | Promise<void> => {
      if (!this.admit(req, res)) return;
      return handler(req, res);
    };
  }
}

/**
 * /status for a caller without the token: the same figures, but no turret uuid (a uuid is what a
 * forged status would need) — turrets keep their names, and a turret known only by its uuid gets a
 * placeholder.
 */
export function redactStatus(status: unknown): unknown {
  if (!status || typeof status !== 'object') return status;
  const s = { ...(status as Record<string, unknown>) };
  const uuids = new Map<string, string>();
  if (Array.isArray(s.turrets)) {
    s.turrets = s.turrets.map((t: unknown, i: number) => {
      if (!t || typeof t !== 'object') return t;
      const { uuid, ...rest } = t as Record<string, unknown>;
      if (typeof uuid === 'string') uuids.set(uuid, `turret-${i + 1}`);
      return rest;
    });
  }
  const live = s.live as { turrets?: Record<string, unknown> } | undefined;
  if (live?.turrets && typeof live.turrets === 'object') {
    const turrets: Record<string, unknown> = {};
    for (const [label, v] of Object.entries(live.turrets)) turrets[uuids.get(label) ?? label] = v;
    s.live = { ...live, turrets };
  }
  s.redacted = 'turret uuids are shown only with the control token';
  return s;
}
