// The package entry: what transaction scripts import as 'oct'. The turret resolves 'oct' and
// 'oct/http' to this package even when a script lives outside it (turret/resolve-hook.mjs).
export { BaseTransaction } from './turret/script-api.ts';
export type { Transaction, TransactionClass, TransactionContext } from './turret/script-api.ts';
export { HttpError, createHttpClient, createHttpAgent } from './turret/http-client.ts';
export type { HttpClient, HttpClientOptions, HttpRequestOptions, HttpResponse, HttpMethod } from './turret/http-client.ts';
export type { Logger } from './common/log.ts';
