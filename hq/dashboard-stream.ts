// The live dashboard's transport: GET / serves the page (rendered in report/, one HTML file with
// the chart library inlined), GET /events pushes the feed by Server-Sent Events — the whole frame
// on connect, then one update a second, the same serialized text for every client — and, once the
// report is written, the report itself, so the page shows it even after a local HQ has exited.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../common/log.ts';
import type { DashboardFeed } from './dashboard-feed.ts';

const TICK_MS = 1000;
/** Open event streams at once; more get 503 (each costs a socket and a write a second). */
const MAX_CLIENTS = 50;
/** A comment line every so often keeps proxies (the API server's) from closing an idle stream. */
const KEEPALIVE_TICKS = 15;

export class DashboardStream {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private reportEvent: string | null = null;
  private ticks = 0;

  constructor(
    private readonly feed: DashboardFeed,
    private readonly page: () => string,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  pageRoute() {
    return (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        // Everything the page needs is inline; it talks to this origin only.
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; frame-src 'self'",
      });
      res.end(this.page());
    };
  }

  eventsRoute() {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (this.clients.size >= MAX_CLIENTS) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' });
        res.end(`at most ${MAX_CLIENTS} dashboards at once\n`);
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.write(`retry: 2000\nevent: full\ndata: ${JSON.stringify(this.feed.full())}\n\n`);
      if (this.reportEvent) res.write(this.reportEvent);
      this.clients.add(res);
      req.on('close', () => this.clients.delete(res));
    };
  }

  /** The run's report is written: every page (now and later) gets it. */
  finish(reportHtml: string): void {
    this.tick();
    this.reportEvent = `event: report\ndata: ${JSON.stringify({ html: reportHtml })}\n\n`;
    this.broadcast(this.reportEvent);
  }

  /** Stops the updates and ends every stream, waiting (briefly) for what was written to leave. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const ends = [...this.clients].map(
      (res) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 2000);
          res.end(() => {
            clearTimeout(t);
            resolve();
          });
        }),
    );
    this.clients.clear();
    await Promise.all(ends);
  }

  private tick(): void {
    let text: string;
    try {
      text = `event: update\ndata: ${JSON.stringify(this.feed.tick())}\n\n`;
    } catch (err) {
      this.log.warn('dashboard update failed', { error: err as Error });
      return;
    }
    if (++this.ticks % KEEPALIVE_TICKS === 0) text += ': keep-alive\n\n';
    this.broadcast(text);
  }

  private broadcast(text: string): void {
    for (const res of this.clients) {
      // A client that does not read (its buffer full) is dropped rather than buffered without bound.
      if (res.writableLength > 8 * 1024 * 1024) {
        res.destroy();
        this.clients.delete(res);
        continue;
      }
      res.write(text);
    }
  }
}
