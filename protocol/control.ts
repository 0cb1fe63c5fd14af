// The bodies of the HQ's control endpoints (POST /control/stop, POST /control/target), parsed from
// untrusted HTTP input into typed requests, or a message naming what is wrong. The size limit is
// enforced while reading (hq/control-routes.ts); this module sees the text only.

/** Larger control bodies are refused (413) before they are parsed. */
export const MAX_CONTROL_BODY_BYTES = 4096;
/** A target is canons (closed model) or iterations/s (open model); more than this is a typo. */
export const MAX_CONTROL_TARGET = 10_000_000;
const MAX_TEXT = 200;

export interface StopRequest {
  kind: 'stop';
  by: string | null;
  reason: string | null;
}

export interface TargetRequest {
  kind: 'target';
  by: string | null;
  /** Canons or iterations per second, from now to the end of the current stage. */
  target: number;
}

export type ControlRequest = StopRequest | TargetRequest;

export type ParsedControl = { ok: true; request: ControlRequest } | { ok: false; error: string };

const KEYS = { stop: ['by', 'reason'], target: ['by', 'target'] } as const;

function text(o: Record<string, unknown>, key: string, issues: string[]): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    issues.push(`${key}: expected a string`);
    return null;
  }
  // Control characters would forge lines in logs and the report's history.
  if (v.length > MAX_TEXT || /[\u0000-\u001f\u007f]/.test(v)) {
    issues.push(`${key}: at most ${MAX_TEXT} printable characters`);
    return null;
  }
  return v.trim() || null;
}

export function parseControlBody(kind: 'stop' | 'target', body: string): ParsedControl {
  let value: unknown = {};
  if (body.trim() !== '') {
    try {
      value = JSON.parse(body);
    } catch (err) {
      return { ok: false, error: `body: not JSON (${(err as Error).message})` };
    }
  } else if (kind === 'target') return { ok: false, error: 'body: expected JSON such as {"target": 50}' };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'body: expected a JSON object' };
  const o = value as Record<string, unknown>;
  const issues: string[] = [];
  const allowed: readonly string[] = KEYS[kind];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) issues.push(`${k}: unknown key; one of ${allowed.join(', ')}`);
  const by = text(o, 'by', issues);
  if (kind === 'stop') {
    const reason = text(o, 'reason', issues);
    return issues.length ? { ok: false, error: issues.join('; ') } : { ok: true, request: { kind, by, reason } };
  }
  const t = o.target;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t > MAX_CONTROL_TARGET)
    issues.push(`target: expected a number from 0 to ${MAX_CONTROL_TARGET} (canons, or iterations/s in the open model), got ${JSON.stringify(t) ?? 'nothing'}`);
  return issues.length ? { ok: false, error: issues.join('; ') } : { ok: true, request: { kind, by, target: t as number } };
}
