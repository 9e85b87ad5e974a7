/**
 * Notifications that cannot take the agent down: vscode-jsonrpc's `sendNotification` throws
 * *synchronously* ("Connection is closed") once the peer has gone, before it returns a promise, so
 * `void send(...).catch(...)` does not catch it. A client that disconnected mid-run (an editor window
 * closed, a user agent killed) must cost its own notifications only, never the process that serves
 * the others.
 */
import type { Logger } from '../log';
import type { NotificationMethod } from '../protocol/messages';
import { sendNotification, type RpcSender } from '../protocol/typedRpc';

export function notifySafely<P>(connection: Pick<RpcSender, 'sendNotification'>, method: NotificationMethod<P>, params: P, log?: Logger): void {
  try {
    sendNotification(connection, method, params).catch((e: unknown) => log?.debug(`${method.method} not delivered: ${String(e)}`));
  } catch (e) {
    log?.debug(`${method.method} not delivered (connection closed): ${String(e)}`);
  }
}
