export * from './config.ts';
export * from './orders.ts';
export * from './results.ts';
export * from './incoming.ts';
export * from './binary-batch.ts';
export * from './status.ts';
