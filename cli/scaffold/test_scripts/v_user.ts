// A transaction script: each canon (virtual user) creates one Transaction, then loops
// setup() → run() → tearDown() until the HQ stops the test. Only run() is timed (scriptrun_time);
// customTimers are reset before every iteration. A thrown error is recorded and the canon goes on.
//
// To hit a real service, use the fast HTTP client the turret provides:
//   await this.ctx.http.get('http://my-api/1.0/echo', { timer: 'Echo service' });
import type { TransactionContext } from 'oct';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Transaction {
  customTimers: Record<string, number> = {};

  constructor(private readonly ctx: TransactionContext) {}

  async run(): Promise<void> {
    // Stands in for real work: waits 50 to 100 ms, timed as a custom timer.
    await this.ctx.timer('Example_Timer', () => sleep(50 + Math.random() * 50));
  }
}
