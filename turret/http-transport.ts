// How ctx.http's requests reach a server, behind one interface: the turret's own HTTP/1.1
// connections (http1-client.ts, the default) or an undici dispatcher (undici-transport.ts, for
// what the first does not do). Both collect a response the same way, so the client above them
// (http-client.ts: series, cookies, redirects, errors) does not know which one ran.

import { rootCertificates } from 'node:tls';

/** One hop of a request, as the transport sends it. */
export interface TransportRequest {
  /** `http://host:port`, as URL.origin gives it. */
  origin: string;
  /** Path and query. */
  path: string;
  method: string;
  headers: Record<string, string> | undefined;
  body: string | Uint8Array | undefined;
}

/** A complete response, its body still raw. */
export interface Exchange {
  status: number;
  rawHeaders: Buffer[] | string[] | null;
  /** Body bytes received. */
  length: number;
  /** The body; `copy` for one the caller keeps (a single chunk is a view of a socket read). */
  body(copy?: boolean): Buffer;
  /** UTF-8 text without a leading BOM, as undici's body.text() returns it. */
  text(): string;
}

export interface HttpTransport {
  /** Resolves at the end of the body; rejects on a network error, or with a TimeoutError after `timeoutMs`. */
  send(req: TransportRequest, timeoutMs: number | undefined): Promise<Exchange>;
}

/** TLS settings of a turret's connections (its `http.tls` config), files already read. */
export interface AgentTls {
  /** Extra trusted certificate authorities (PEM), added to Node's defaults. */
  ca?: string | Buffer;
  /** Client certificate and key (PEM), for servers that ask for one. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** false accepts any server certificate: the caller warns, loudly. */
  rejectUnauthorized?: boolean;
}

/** The options of node:tls' connect for these settings: HTTP/1 (both clients) and WebSocket alike. */
export function tlsConnectOptions(tls: AgentTls = {}): {
  ca?: (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized: boolean;
} {
  return {
    ca: tls.ca !== undefined ? [...rootCertificates, tls.ca] : undefined,
    cert: tls.cert,
    key: tls.key,
    rejectUnauthorized: tls.rejectUnauthorized !== false,
  };
}

/** The error an expired timeoutMs rejects with: the same as AbortSignal.timeout()'s reason. */
export function timeoutError(): Error {
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
}

const EMPTY = Buffer.alloc(0);

/** A response's status, raw headers and body chunks, as either transport collects them. */
export class BodyCollector implements Exchange {
  status = 0;
  rawHeaders: Buffer[] | string[] | null = null;
  chunks: Buffer[] = [];
  length = 0;

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.length += chunk.length;
    return true;
  }

  body(copy = false): Buffer {
    const { chunks } = this;
    if (chunks.length === 0) return copy ? Buffer.alloc(0) : EMPTY;
    if (chunks.length === 1) return copy ? Buffer.from(chunks[0]!) : chunks[0]!;
    return Buffer.concat(chunks, this.length);
  }

  text(): string {
    if (this.length === 0) return '';
    const b = this.body();
    const start = b.length > 2 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    return b.toString('utf8', start);
  }
}
