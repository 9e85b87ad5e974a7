/**
 * What the dashboard page keeps across reloads (the webview state API) and how a saved state is read
 * back: a state saved by an older page (another shape) is dropped, not misread.
 */
import type { IntensitySeriesResult, RunSummary } from '../../agent/protocol/messages';
import type { GpuSample } from './gpuSeries';
import type { PhaseBand, RunSeriesData } from './runSeries';

export const DASHBOARD_STATE_VERSION = 2;
/** One hour at the extension's 5 s sampling. */
export const MAX_GPU_SAMPLES = 720;
/** Rows of the runs table. */
export const MAX_TABLE_RUNS = 20;

export interface DashboardState {
  version: typeof DASHBOARD_STATE_VERSION;
  /** The intensity chart: the last hours and the next. */
  series?: IntensitySeriesResult;
  /** GPU samples of the window the GPU chart shows, oldest first. */
  gpuSamples: GpuSample[];
  /** All runs' phases, oldest first (the GPU chart marks them all, the run charts their run's). */
  phases: PhaseBand[];
  /** The run the run charts follow. */
  run?: RunSeriesData;
  /** The latest summary of each run seen, oldest first (the runs table). */
  runTable: RunSummary[];
  /** The latest grid reading (extension clock): a new run's intensity line starts from it. */
  reading?: { atMs: number; intensityGPerKwh: number };
}

export function restoreState(saved: unknown): DashboardState {
  const fresh: DashboardState = { version: DASHBOARD_STATE_VERSION, gpuSamples: [], phases: [], runTable: [] };
  if (typeof saved !== 'object' || saved === null || (saved as { version?: unknown }).version !== DASHBOARD_STATE_VERSION) return fresh;
  return { ...fresh, ...(saved as DashboardState) };
}

/** Keeps the newest summary of each run, in the order the runs were first seen, at most {@link MAX_TABLE_RUNS}. */
export function upsertRun(table: RunSummary[], run: RunSummary): void {
  const i = table.findIndex((r) => r.id === run.id);
  if (i >= 0) table[i] = run;
  else table.push(run);
  if (table.length > MAX_TABLE_RUNS) table.shift();
}
