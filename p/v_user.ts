import type { TransactionContext } from 'oct';
export class Transaction {
  customTimers: Record<string, number> = {};
  constructor(private readonly ctx: TransactionContext) {}
  async run() {
    await this.ctx.http.get(String(this.ctx.data.url));
  }
}
