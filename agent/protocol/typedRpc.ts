/**
 * Calls through the method objects of messages.ts and limits.ts, for every side that sends or
 * receives them (the extension's LanguageClient, the agent's connections, the user agent's client of
 * the limits service): the compiler checks each call's parameters and result against the method's
 * declaration, as vscode-languageclient does with `RequestType<P, R>` (rust-analyzer,
 * editors/code/src/lsp_ext.ts). So no call site names a method string or picks a result type.
 *
 *   const series = await sendRequest(client, Methods.intensitySeries, { pastHours: 48, futureHours: 24 });
 *   //    ^ IntensitySeriesResult
 *
 * The agent's side registers handlers the same way: `onRequest(connection, Methods.x, handler)`
 * (agent/server/rpc.ts), which also checks the parameters against the method's schema.
 *
 * Structural interfaces, no vscode-jsonrpc import: this folder compiles without Node types.
 */
import type { NotificationMethod, RequestMethod } from './messages';

/** A call's parameters: none for a method that takes none (`void`), else exactly `P`. */
export type ParamsArgs<P> = [P] extends [void] ? [] : [params: P];

/** What sends requests and notifications: vscode-languageclient's LanguageClient, vscode-jsonrpc's MessageConnection. */
export interface RpcSender {
  sendRequest(method: string, ...params: unknown[]): Promise<unknown>;
  sendNotification(method: string, params?: unknown): Promise<void>;
}

/** What receives notifications. */
export interface NotificationReceiver {
  onNotification(method: string, handler: (...params: unknown[]) => void): { dispose(): void };
}

/** Sends `method` with its parameters; resolves with its result (the peer's answer is trusted in this direction). */
export function sendRequest<P, R>(to: Pick<RpcSender, 'sendRequest'>, method: RequestMethod<P, R>, ...params: ParamsArgs<P>): Promise<R> {
  return to.sendRequest(method.method, ...params) as Promise<R>;
}

/** Sends a notification with its parameters. */
export function sendNotification<P>(to: Pick<RpcSender, 'sendNotification'>, method: NotificationMethod<P>, params: P): Promise<void> {
  return to.sendNotification(method.method, params);
}

/** Handles a notification; `handler` gets the declared parameter type. */
export function onNotification<P>(on: NotificationReceiver, method: NotificationMethod<P>, handler: (params: P) => void): { dispose(): void } {
  return on.onNotification(method.method, handler as (...params: unknown[]) => void);
}
