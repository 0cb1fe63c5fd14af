// A canon's session: the cookies its requests set, sent back on the requests that match them
// (RFC 6265, by tough-cookie: domain, path, expiry, Secure, SameSite are its job, not ours). One
// per canon, kept across iterations, as a browser keeps them across page views.
import { CookieJar, pathMatch } from 'tough-cookie';

/** Distinct Cookie headers remembered per canon; past it the cache starts again. */
const MAX_CACHED_HEADERS = 256;

export class CookieSession {
  private readonly jar = new CookieJar();
  // tough-cookie's lookup parses the URL and walks its store on every call: a script that never
  // receives a cookie should not pay for that on every request of the fast path.
  private holding = false;
  // The jar's answer for a request depends only on the origin, which of the cookies' paths match
  // the request's path (RFC 6265 5.1.4, tough-cookie's pathMatch) and the time: remembered by
  // those, until the jar changes or the first matched cookie expires. A lookup costs ~6-10 µs,
  // which is a sixth of a whole request on the fast path.
  private paths: string[] = [];
  private readonly cache = new Map<string, { value: string; until: number; headers: Record<string, string> }>();

  /** The Cookie header for a request to `url`, or '' when none apply. */
  header(url: string): string {
    if (!this.holding) return '';
    const u = new URL(url);
    return this.headerFor(url, u.origin, u.pathname);
  }

  /** As header(), with the URL's origin and path already known (ctx.http caches them per URL). */
  headerFor(url: string, origin: string, pathname: string): string {
    return this.lookup(url, origin, pathname)?.value ?? '';
  }

  /**
   * The request headers to send: `headers` with the session's Cookie added. Without headers of
   * its own a request gets one shared object per distinct Cookie header, not a new one each time.
   */
  withCookies(headers: Record<string, string> | undefined, url: string, origin: string, pathname: string): Record<string, string> | undefined {
    const hit = this.lookup(url, origin, pathname);
    if (!hit || hit.value === '') return headers;
    if (headers === undefined) return hit.headers;
    return { ...headers, cookie: headers.cookie ? `${headers.cookie}; ${hit.value}` : hit.value };
  }

  private lookup(url: string, origin: string, pathname: string): { value: string; until: number; headers: Record<string, string> } | null {
    if (!this.holding) return null;
    let key = origin;
    for (let i = 0; i < this.paths.length; i++) key += pathMatch(pathname, this.paths[i]!) ? '\u00011' : '\u00010';
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit;
    const cookies = this.jar.getCookiesSync(url);
    let until = Number.POSITIVE_INFINITY;
    for (const c of cookies) until = Math.min(until, c.expiryTime() ?? Number.POSITIVE_INFINITY);
    const value = cookies.map((c) => c.cookieString()).join('; ');
    if (this.cache.size >= MAX_CACHED_HEADERS) this.cache.clear();
    const entry = { value, until, headers: Object.freeze({ cookie: value }) as Record<string, string> };
    this.cache.set(key, entry);
    return entry;
  }

  /** Set-Cookie values of a response from `url`; a malformed one is ignored, as browsers do. */
  store(setCookies: readonly string[], url: string): void {
    // Any Set-Cookie may change the jar (one with a past date deletes a cookie): forget the cache.
    this.cache.clear();
    for (const c of setCookies) {
      const cookie = this.jar.setCookieSync(c, url, { ignoreError: true });
      if (cookie) this.changed(cookie.path);
    }
  }

  /** Sets one cookie as if `url` had sent it (e.g. `"token=abc; Path=/"`). */
  set(cookie: string, url: string): void {
    this.changed(this.jar.setCookieSync(cookie, url)?.path);
  }

  private changed(path: string | null | undefined): void {
    this.holding = true;
    this.cache.clear();
    if (path && !this.paths.includes(path)) this.paths.push(path);
  }

  /** `name=value` pairs that a request to `url` would carry. */
  get(url: string): Record<string, string> {
    if (!this.holding) return {};
    return Object.fromEntries(this.jar.getCookiesSync(url).map((c) => [c.key, c.value]));
  }

  /** Forgets every cookie (a logout, or a fresh user in setup()). */
  clear(): void {
    this.jar.removeAllCookiesSync();
    this.holding = false;
    this.cache.clear();
    this.paths = [];
  }
}
