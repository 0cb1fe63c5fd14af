// The package entry: what transaction scripts import as 'oct'. The turret resolves 'oct' and
// 'oct/http' to this package even when a script lives outside it (turret/resolve-hook.mjs).
export { BaseTransaction } from './turret/script-api.ts';
export type { Transaction, TransactionClass, TransactionContext } from './turret/script-api.ts';
export { HttpError, HttpRequestError, createHttpClient } from './turret/http-client.ts';
// undici's Agent, for createHttpClient({ dispatcher }) outside a turret (loads undici).
export { createHttpAgent } from './turret/undici-transport.ts';
export { Http1Connector } from './turret/http1-client.ts';
export type { AgentTls, HttpClient, HttpClientOptions, HttpRequestOptions, HttpResponse, HttpMethod, RequestRecorder } from './turret/http-client.ts';
export { CookieSession } from './turret/cookies.ts';
export { WsError } from './turret/ws-client.ts';
export type { WsClient, WsConnection, WsData, WsOptions, WsRoundTripOptions, WsWaitOptions } from './turret/ws-client.ts';
export type { DataPolicy } from './protocol/data-file.ts';
export type { Logger } from './common/log.ts';
