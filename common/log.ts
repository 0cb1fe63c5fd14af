// Structured, quiet-by-default logging passed in to every part (no global logger). Lines are
// "level component message key=value …" on stderr, so stdout stays for the progress line and
// machine output.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v);
}

export function createLogger(opts: { level?: LogLevel; component?: string; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'warn'];
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const make = (component: string): Logger => {
    const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      const kv = fields
        ? Object.entries(fields)
            .map(([k, v]) => ` ${k}=${fmt(v)}`)
            .join('')
        : '';
      write(`${new Date().toISOString()} ${level.padEnd(5)} ${component} ${msg}${kv}`);
    };
    return {
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (c) => make(component ? `${component}.${c}` : c),
    };
  };
  return make(opts.component ?? 'oct');
}

/** A logger that keeps lines in memory: for tests that assert what was logged. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger({ level, write: (l) => lines.push(l) }), { lines });
}
