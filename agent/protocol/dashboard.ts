/**
 * Messages between the extension and the dashboard webview (postMessage). Declared here, beside the
 * agent wire, so both sides compile against one definition; the webview forwards nothing to the agent.
 *
 * Handshake: the webview posts `ready` once its script runs (also after a reload); only then does the
 * extension post `series` / `status`. Live updates reuse the same messages.
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
  | { type: 'status'; status: CarbonStatus }
  /** A sample of the GPUs (limits and power draw), taken every few seconds while the panel is visible. */
  | { type: 'gpus'; atMs: number; gpus: GpusResult }
  /** A run's accounting (live every few seconds, and at its end). */
  | { type: 'run'; atMs: number; run: RunSummary }
  | { type: 'error'; message: string };

/** State the webview keeps across reloads (vscode.setState). */
export interface DashboardState {
  series?: IntensitySeriesResult;
  /** Recent GPU samples and run summaries, so a reload redraws the same charts. */
  gpuSamples?: Array<{ atMs: number; gpus: GpusResult }>;
  runs?: Array<{ atMs: number; run: RunSummary }>;
}
