/**
 * Notifications that cannot take the agent down: vscode-jsonrpc's `sendNotification` throws
 * *synchronously* ("Connection is closed") once the peer has gone, before it returns a promise, so
 * `void send(...).catch(...)` does not catch it. A client that disconnected mid-run (an editor window
 * closed, a user agent killed) must cost its own notifications only, never the process that serves
 * the others.
 */
import type { Logger } from '../log';

interface Notifier {
  sendNotification(method: string, params?: unknown): Promise<void>;
}

export function notifySafely(connection: Notifier, method: string, params: unknown, log?: Logger): void {
  try {
    connection.sendNotification(method, params).catch((e: unknown) => log?.debug(`${method} not delivered: ${String(e)}`));
  } catch (e) {
    log?.debug(`${method} not delivered (connection closed): ${String(e)}`);
  }
}
