/**
 * Messages between the extension and the dashboard webview (postMessage). Declared here, beside the
 * agent wire, so both sides compile against one definition; the webview forwards nothing to the agent.
 *
 * Handshake: the webview posts `ready` once its script runs (also after a reload); only then does the
 * extension post `series` / `status`. Live updates reuse the same messages. Times (`atMs`) are the
 * extension's clock, epoch ms. What the page keeps across reloads is its own business
 * (webview/model/dashboardState.ts).
 */
import type { CarbonStatus, GpusResult, IntensitySeriesResult, RunSummary } from './messages';

/** webview → extension */
export type WebviewToExtension =
  | { type: 'ready' }
  /** The user asked for fresh data (the Refresh button). */
  | { type: 'refresh' };

/** extension → webview */
export type ExtensionToWebview =
  | { type: 'series'; series: IntensitySeriesResult }
  /** The carbon status whenever it changes; `atMs` (extension clock) puts the reading on the run charts' time axis. */
  | { type: 'status'; atMs: number; status: CarbonStatus }
  /** A sample of the GPUs (limits and power draw), taken every few seconds while the panel is visible. */
  | { type: 'gpus'; atMs: number; gpus: GpusResult }
  /** A run's accounting (live every few seconds, and at its end). */
  | { type: 'run'; atMs: number; run: RunSummary }
  /** Start-time advice a `chase` task gave before starting (extension/adviceModel.ts): the task's command and the advice's words. */
  | { type: 'advice'; atMs: number; command: string; text: string }
  | { type: 'error'; message: string };
