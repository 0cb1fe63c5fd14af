// An incremental HTTP/1.1 response parser (RFC 9112) for the turret's own client (http1-client.ts):
// one response at a time on a keep-alive connection, bytes fed as the socket delivers them, split
// anywhere. It decides the body's length by RFC 9112 §6.3 (HEAD, 1xx, 204 and 304 have none;
// chunked wins over Content-Length; otherwise Content-Length; otherwise until the server closes),
// skips interim 1xx responses, decodes chunked bodies (extensions and trailers read and dropped),
// and refuses what a lenient parser would guess at: obsolete line folding, a header name that is not
// a token, conflicting Content-Lengths, a head or chunk line too long, a bare CR, LF or NUL in a
// header (RFC 9110 §5.5). Headers come out raw (name, value, name, value …), as strings decoded
// from UTF-8 as ctx.http decodes undici's raw Buffers, parsed only when asked.

export interface ResponseSink {
  /** The final (non-1xx) status and raw headers. */
  onHead(status: number, rawHeaders: string[]): void;
  /** A piece of the body (a view of the socket's buffer: copy it to keep it past the call). */
  onBody(chunk: Buffer): void;
  /**
   * The end of the response; `keepAlive`: the connection may carry the next request; `idleMs`: how
   * long the server said it keeps an idle connection (`Keep-Alive: timeout=N`), null if it did not.
   */
  onComplete(keepAlive: boolean, idleMs: number | null): void;
}

export class HttpParseError extends Error {
  constructor(message: string) {
    super(`invalid HTTP response: ${message}`);
    this.name = 'HttpParseError';
  }
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;
/** Trailer fields after a chunked body: as many bytes as a head may have, then the response is refused. */
const MAX_TRAILER_BYTES = MAX_HEAD_BYTES;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const LFLF = Buffer.from('\n\n');

enum State {
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

export class ResponseParser {
  private state = State.Idle;
  private sink: ResponseSink | null = null;
  private isHead = false;
  private keepAlive = true;
  private idleMs: number | null = null;
  /** Head bytes (or a chunk-size or trailer line) that arrived without their end yet. */
  private partial: Buffer | null = null;
  private remaining = 0;
  /** Bytes of trailer lines read so far: a server sending them forever would otherwise hold the request until its timeout. */
  private trailerBytes = 0;

  /** Starts reading the response to one request (`head`: it was a HEAD request, so no body follows). */
  expect(sink: ResponseSink, head: boolean): void {
    if (this.state !== State.Idle) throw new Error('ResponseParser: the previous response has not ended');
    this.sink = sink;
    this.isHead = head;
    this.state = State.Head;
    this.partial = null;
  }

  /** Whether a response is being read (bytes now are its; bytes while idle are a protocol error). */
  get busy(): boolean {
    return this.state !== State.Idle;
  }

  /** Whether the response so far has had any byte at all (a reused connection closing before any may be retried). */
  get started(): boolean {
    return this.state !== State.Head || this.partial !== null;
  }

  /** Feeds bytes from the socket; throws HttpParseError on a malformed response. */
  execute(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      switch (this.state) {
        case State.Idle:
          throw new HttpParseError(`${data.length - at} bytes arrived with no request waiting for them`);
        case State.Head:
          at = this.head(data, at);
          break;
        case State.Length: {
          const n = Math.min(this.remaining, data.length - at);
          this.sink!.onBody(data.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.complete();
          break;
        }
        case State.ChunkSize:
        case State.ChunkEnd:
        case State.Trailers:
          at = this.line(data, at);
          break;
        case State.ChunkData: {
          const n = Math.min(this.remaining, data.length - at);
          this.sink!.onBody(data.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.ChunkEnd;
          break;
        }
        case State.UntilClose:
          this.sink!.onBody(at === 0 ? data : data.subarray(at));
          at = data.length;
          break;
      }
    }
  }

  /** The server closed the connection: the end of a body read until close, an error anywhere else. */
  end(): void {
    if (this.state === State.UntilClose) {
      this.keepAlive = false;
      this.complete();
      return;
    }
    if (this.state !== State.Idle) throw new HttpParseError('the server closed the connection before the response ended');
  }

  private complete(): void {
    const sink = this.sink!;
    this.state = State.Idle;
    this.sink = null;
    this.partial = null;
    sink.onComplete(this.keepAlive, this.idleMs);
  }

  private head(data: Buffer, at: number): number {
    let buf = data;
    let from = at;
    if (this.partial !== null) {
      buf = Buffer.concat([this.partial, data.subarray(at)]);
      from = 0;
    }
    // Search from just before the new bytes, so a CRLFCRLF split across reads is found.
    const searchFrom = this.partial === null ? from : Math.max(0, this.partial.length - 3);
    const end = buf.indexOf(CRLFCRLF, searchFrom);
    if (end < 0) {
      // LF LF never occurs in a CRLF head: a server ending lines in bare LF, whose head would
      // otherwise wait for a CRLFCRLF that never comes and end as a timeout.
      if (buf.indexOf(LFLF, searchFrom) >= 0) throw new HttpParseError("the head's lines end in a bare LF, not CRLF");
      if (buf.length - from > MAX_HEAD_BYTES) throw new HttpParseError(`the status line and headers exceed ${MAX_HEAD_BYTES} bytes`);
      this.partial = from === 0 ? buf : Buffer.from(buf.subarray(from));
      return data.length;
    }
    if (end - from > MAX_HEAD_BYTES) throw new HttpParseError(`the status line and headers exceed ${MAX_HEAD_BYTES} bytes`);
    const consumed = this.partial === null ? end + 4 : end + 4 - this.partial.length + at;
    this.partial = null;
    // UTF-8, not latin1: a header's bytes are what the server's own code wrote, nearly always UTF-8
    // ("voilà" in X-Name, a Location to /café), and undici's path decodes them so (ASCII costs the same).
    this.onHeadBlock(buf.toString('utf8', from, end));
    return consumed;
  }

  private onHeadBlock(block: string): void {
    let eol = block.indexOf('\r\n');
    if (eol < 0) eol = block.length;
    const statusLine = block.slice(0, eol);
    const m = STATUS_LINE.exec(statusLine);
    if (!m) throw new HttpParseError(`bad status line ${JSON.stringify(statusLine.slice(0, 100))}`);
    const status = Number(m[2]);
    if (block.indexOf('\0') >= 0) throw new HttpParseError('NUL in a header');
    const raw: string[] = [];
    let length: number | null = null;
    let chunked = false;
    let otherCoding = false;
    let close = m[1] === '0';
    let idleMs: number | null = null;
    // Line by line without splitting the block: this runs once per response.
    for (let start = eol + 2; start < block.length; start = eol + 2) {
      eol = block.indexOf('\r\n', start);
      if (eol < 0) eol = block.length;
      const c = block.charCodeAt(start);
      if (c === 32 || c === 9) throw new HttpParseError('obsolete line folding in a header');
      const colon = block.indexOf(':', start);
      const name = colon > start && colon < eol ? block.slice(start, colon) : '';
      if (!TOKEN.test(name)) throw new HttpParseError(`bad header line ${JSON.stringify(block.slice(start, Math.min(eol, start + 100)))}`);
      // Lines end at CRLF only: a CR or LF alone inside one would reach the script inside a value.
      const lf = block.indexOf('\n', start);
      const cr = block.indexOf('\r', start);
      if ((lf >= 0 && lf < eol) || (cr >= 0 && cr < eol))
        throw new HttpParseError(`bare CR or LF in a header line ${JSON.stringify(block.slice(start, Math.min(eol, start + 100)))}`);
      // Only the optional whitespace (SP, HTAB) around it: String.trim() would also take a trailing NBSP.
      let from = colon + 1;
      let to = eol;
      while (from < to && (block.charCodeAt(from) === 32 || block.charCodeAt(from) === 9)) from++;
      while (to > from && (block.charCodeAt(to - 1) === 32 || block.charCodeAt(to - 1) === 9)) to--;
      const value = block.slice(from, to);
      raw.push(name, value);
      switch (name.length) {
        case 10:
          if (name.toLowerCase() === 'connection') {
            const v = value.toLowerCase();
            if (/(^|,)\s*close\s*(,|$)/.test(v)) close = true;
            else if (/(^|,)\s*keep-alive\s*(,|$)/.test(v)) close = false;
          } else if (name.toLowerCase() === 'keep-alive') {
            const t = /(?:^|[,\s])timeout=(\d{1,6})/i.exec(value);
            if (t) idleMs = Number(t[1]) * 1000;
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            if (!/^\d{1,15}$/.test(value)) throw new HttpParseError(`bad Content-Length ${JSON.stringify(value.slice(0, 40))}`);
            const n = Number(value);
            if (length !== null && length !== n) throw new HttpParseError('conflicting Content-Lengths');
            length = n;
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            const codings = value
              .toLowerCase()
              .split(',')
              .map((s) => s.trim());
            chunked = codings.at(-1) === 'chunked';
            otherCoding = !chunked;
          }
          break;
      }
    }
    if (status < 200) {
      if (status === 101) throw new HttpParseError('101 Switching Protocols to a request that asked for no upgrade');
      // An interim response (100 Continue, 103 Early Hints): the real one follows.
      return;
    }
    this.keepAlive = !close;
    this.idleMs = idleMs;
    this.sink!.onHead(status, raw);
    if (this.isHead || status === 204 || status === 304) {
      this.complete();
      return;
    }
    if (chunked) {
      // Chunked and a length both: the length is a lie or an attack (request smuggling); not reused.
      if (length !== null) this.keepAlive = false;
      this.state = State.ChunkSize;
    } else if (otherCoding) {
      this.keepAlive = false;
      this.state = State.UntilClose;
    } else if (length !== null) {
      if (length === 0) {
        this.complete();
        return;
      }
      this.remaining = length;
      this.state = State.Length;
    } else {
      this.keepAlive = false;
      this.state = State.UntilClose;
    }
  }

  /** A chunk-size line, the CRLF after a chunk's data, or a trailer line. */
  private line(data: Buffer, at: number): number {
    const nl = data.indexOf(10, at);
    if (nl < 0) {
      this.partial = this.partial === null ? Buffer.from(data.subarray(at)) : Buffer.concat([this.partial, data.subarray(at)]);
      if (this.partial.length > MAX_LINE_BYTES) throw new HttpParseError(`a chunk or trailer line exceeds ${MAX_LINE_BYTES} bytes`);
      return data.length;
    }
    let text = data.toString('latin1', at, nl);
    if (this.partial !== null) {
      text = this.partial.toString('latin1') + text;
      this.partial = null;
    }
    if (text.length > MAX_LINE_BYTES) throw new HttpParseError(`a chunk or trailer line exceeds ${MAX_LINE_BYTES} bytes`);
    if (!text.endsWith('\r')) throw new HttpParseError('a line of the chunked body does not end in CRLF');
    text = text.slice(0, -1);
    switch (this.state) {
      case State.ChunkEnd:
        if (text !== '') throw new HttpParseError('chunk data longer than its size');
        this.state = State.ChunkSize;
        break;
      case State.ChunkSize: {
        const m = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/.exec(text);
        if (!m) throw new HttpParseError(`bad chunk size line ${JSON.stringify(text.slice(0, 40))}`);
        const size = Number.parseInt(m[1]!, 16);
        if (size === 0) {
          this.state = State.Trailers;
          this.trailerBytes = 0;
        } else {
          this.remaining = size;
          this.state = State.ChunkData;
        }
        break;
      }
      case State.Trailers:
        if (text === '') this.complete();
        else if ((this.trailerBytes += text.length + 2) > MAX_TRAILER_BYTES) throw new HttpParseError(`the trailer fields exceed ${MAX_TRAILER_BYTES} bytes`);
        break;
    }
    return nl + 1;
  }
}
