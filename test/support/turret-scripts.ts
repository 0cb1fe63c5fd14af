// Transaction scripts for turret tests, written to a temp dir outside the repo (as a user's
// project would be), with a package.json that makes them ES modules.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ScriptDir {
  dir: string;
  write(name: string, source: string): string;
  writeConfig(name: string, config: Record<string, unknown>): string;
  remove(): void;
}

export function scriptDir(opts: { esm?: boolean } = {}): ScriptDir {
  const dir = mkdtempSync(join(tmpdir(), 'oct-turret-test-'));
  if (opts.esm !== false) writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  return {
    dir,
    write(name, source) {
      const file = join(dir, name);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, source);
      return file;
    },
    writeConfig(name, config) {
      const file = join(dir, name);
      writeFileSync(file, JSON.stringify(config, null, 2));
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Every iteration: a short sleep; odd iterations set no timer; every 3rd throws an empty Error. */
export const MIXED_SCRIPT = `
import { BaseTransaction, type TransactionContext } from 'oct';

export class Transaction extends BaseTransaction {
  i = 0;
  constructor(ctx: TransactionContext) { super(ctx); }
  async run() {
    const i = this.i++;
    await new Promise((r) => setTimeout(r, 5));
    if (i % 2 === 0) await this.ctx.timer('even', async () => { await new Promise((r) => setTimeout(r, 1)); });
    this.customTimers.iteration = i;
    this.customTimers.canon = this.ctx.canon;
    if (typeof this.ctx.data.factor === 'number') this.customTimers.factor = this.ctx.data.factor;
    if (i % 3 === 2) throw new Error();
  }
}
`;

/** run() takes SLOW_MS; counts starts and ends of run() in custom timers. */
export const slowScript = (ms: number) => `
export default class {
  customTimers = {};
  async run() {
    await new Promise((r) => setTimeout(r, ${ms}));
    this.customTimers.done = 1;
  }
}
`;

/** A run() that never awaits anything real: the turret must still hear orders. */
export const BUSY_SCRIPT = `
export class Transaction {
  customTimers = {};
  run() { let x = 0; for (let i = 0; i < 1000; i++) x += i; return x; }
}
`;
