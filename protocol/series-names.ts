// Names of the series a script's requests and checks are counted under. They travel as ordinary
// series of the per-second deltas (protocol/aggregate.ts), so they share the custom timer cap
// (MAX_TIMER_SERIES) and every consumer — live view, store, report, thresholds — reads them as it
// reads a custom timer. The names must stay few: one per request *kind*, never one per URL.

/** A check's series: its histogram counts evaluations (value 0), its errors count failures. */
export const CHECK_PREFIX = 'check: ';

export const checkSeries = (name: string): string => `${CHECK_PREFIX}${name}`;
export const isCheckSeries = (series: string): boolean => series.startsWith(CHECK_PREFIX);
export const checkName = (series: string): string => series.slice(CHECK_PREFIX.length);

/** What an id-like path segment becomes in a grouped name. */
export const ID_PLACEHOLDER = ':id';

const DIGITS = /^\d+$/;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const HEX = /^[0-9a-f]{8,}$/i;
// Opaque tokens (base64url, ULIDs, slugs with a number in them): long and carrying a digit.
const TOKEN = /^[A-Za-z0-9_\-.~=+%]{16,}$/;
const HAS_DIGIT = /\d/;

/** Whether a path segment names one thing among many (an id) rather than a kind of resource. */
export function isIdSegment(segment: string): boolean {
  if (segment === '') return false;
  if (DIGITS.test(segment) || UUID.test(segment)) return true;
  if (!HAS_DIGIT.test(segment)) return false;
  return HEX.test(segment) || TOKEN.test(segment);
}

/**
 * A URL's path with id-like segments replaced and the query left out (its values are ids too):
 * `https://shop/orders/123?x=1` → `/orders/:id`. Strings that are not URLs are kept, cut short.
 */
export function groupedPath(url: string | URL): string {
  let pathname: string;
  try {
    pathname = (typeof url === 'string' ? new URL(url) : url).pathname;
  } catch {
    return String(url).slice(0, 200);
  }
  const parts = pathname.split('/');
  for (let i = 0; i < parts.length; i++) if (isIdSegment(parts[i]!)) parts[i] = ID_PLACEHOLDER;
  return parts.join('/').slice(0, 200);
}

/** The series of a request: method and grouped name, e.g. `GET /orders/:id`. */
export const requestSeries = (method: string, name: string): string => `${method} ${name}`;

/**
 * Per-series counters a delta may carry besides its histogram (requests only): responses per
 * status (`status:200`), failed requests with no status (`status:none`), bytes sent and received.
 */
export const STATUS_COUNTER_PREFIX = 'status:';
export const NO_STATUS_COUNTER = 'status:none';
export const BYTES_SENT_COUNTER = 'bytes_sent';
export const BYTES_RECEIVED_COUNTER = 'bytes_received';
/** Distinct counters per series delta: ~a dozen statuses and the byte counts, with room. */
export const MAX_COUNTERS = 32;
const COUNTER_NAME = /^(status:(\d{3}|none)|bytes_sent|bytes_received)$/;

export type Counters = Record<string, number>;

/** Why a counters object from the network is unacceptable, or null. */
export function countersProblem(c: unknown): string | null {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return 'counters must be an object';
  const keys = Object.keys(c);
  if (keys.length > MAX_COUNTERS) return `at most ${MAX_COUNTERS} counters`;
  for (const k of keys) {
    if (!COUNTER_NAME.test(k)) return `unknown counter ${JSON.stringify(k.slice(0, 40))}`;
    const v = (c as Record<string, unknown>)[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `counter ${k} must be a non-negative integer`;
  }
  return null;
}

/** Adds `from` into `into` (in place); returns `into`. */
export function addCounters(into: Counters, from: Counters): Counters {
  for (const k in from) into[k] = (into[k] ?? 0) + from[k]!;
  return into;
}
