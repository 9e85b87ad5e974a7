/**
 * Messages between the extension and the dashboard webview (postMessage). Declared here, beside the
 * agent wire, so both sides compile against one definition; the webview forwards nothing to the agent.
 *
 * Handshake: the webview posts `ready` once its script runs (also after a reload); only then does the
 * extension post `series` / `status`. Live updates reuse the same messages.
 */
import type { CarbonStatus, IntensitySeriesResult } from './messages';

/** webview → extension */
export type WebviewToExtension =
  | { type: 'ready' }
  /** The user asked for fresh data (the Refresh button). */
  | { type: 'refresh' };

/** extension → webview */
export type ExtensionToWebview =
  | { type: 'series'; series: IntensitySeriesResult }
  | { type: 'status'; status: CarbonStatus }
  | { type: 'error'; message: string };

/** State the webview keeps across reloads (vscode.setState). */
export interface DashboardState {
  series?: IntensitySeriesResult;
}
