/**
 * The run charts' data, from the `chase/runUpdated` summaries the extension forwards (every few
 * seconds while a run is live) and the carbon readings: the run's carbon so far against the same work
 * at max power (two growing lines), the grid intensity and the run's power limit on one time axis,
 * and the run's phases (profiling, controlling) as bands. Incremental like gpuSeries.ts: an update
 * appends to the arrays chart.js draws, never rebuilds them. The data is plain JSON so that the page
 * keeps it across reloads (webview state) as it is.
 */
import type { RunState, RunSummary } from '../../agent/protocol/messages';
import { milliwattsToWatts } from '../../agent/protocol/accounting';
import type { XY } from './gpuSeries';

/** The phases a run's chart marks; `starting`, `finished` and `failed` end the band before. */
export type RunPhase = Extract<RunState, 'profiling' | 'controlling'>;

export interface PhaseBand {
  runId: string;
  phase: RunPhase;
  fromMs: number;
  toMs: number;
  /** Still growing: the run is in this phase as of its latest update. */
  open: boolean;
}

const MAX_PHASE_BANDS = 100;

function isPhase(state: RunState): state is RunPhase {
  return state === 'profiling' || state === 'controlling';
}

/**
 * Extends or starts the band of `run`'s phase at `atMs` (all runs' bands in one list, oldest first).
 * A phase change is seen at the update that reports it, so a band starts there.
 */
export function trackPhase(bands: PhaseBand[], atMs: number, run: Pick<RunSummary, 'id' | 'state'>): void {
  let open: PhaseBand | undefined;
  for (let i = bands.length - 1; i >= 0 && !open; i--) if (bands[i].runId === run.id && bands[i].open) open = bands[i];
  if (open && atMs < open.toMs) return; // out of order
  if (open) open.toMs = atMs;
  if (open && open.phase === run.state) return;
  if (open) open.open = false;
  if (isPhase(run.state)) bands.push({ runId: run.id, phase: run.state, fromMs: atMs, toMs: atMs, open: true });
  if (bands.length > MAX_PHASE_BANDS) bands.splice(0, bands.length - MAX_PHASE_BANDS);
}

/** At most this many changes on a stepped line. */
export const MAX_STEP_POINTS = 2000;

/**
 * A value that holds until it changes (a power limit, a grid reading), drawn as a stepped line
 * (chart.js `stepped: 'after'`): the points are the changes, then a tail at the latest time, which
 * moves along while the value holds.
 */
export function setStep(points: XY[], atMs: number, y: number): void {
  const tail = points[points.length - 1];
  if (!tail) {
    points.push({ x: atMs, y }, { x: atMs, y });
    return;
  }
  if (atMs < tail.x) return; // out of order
  tail.x = atMs;
  if (tail.y === y) return;
  tail.y = y; // the tail becomes the change, and a new tail follows it
  points.push({ x: atMs, y });
  if (points.length > MAX_STEP_POINTS) points.shift(); // a long sped-up replay: the oldest changes go
}

/** The value holds up to `atMs`. */
export function extendStep(points: XY[], atMs: number): void {
  const tail = points[points.length - 1];
  if (tail && atMs > tail.x) tail.x = atMs;
}

/** The change points of a stepped line (without its tail). */
export function stepChanges(points: XY[]): XY[] {
  return points.length <= 1 ? points : points.slice(0, -1);
}

export interface RunSeriesData {
  runId: string;
  command: string;
  /** The run's start (agent clock, the same host as the extension's): the axis counts from here. */
  originMs: number;
  /** The latest update's time. */
  lastMs: number;
  state: RunState;
  /** Grams so far, as updated. */
  carbonG: XY[];
  /** Grams the same work would have emitted at max power; from the end of profiling on. */
  baselineCarbonG: XY[];
  /** The run's power limit, W (stepped). */
  limitW: XY[];
  /** The grid's intensity while the run is live, g/kWh (stepped). */
  intensityGPerKwh: XY[];
}

/** At most this many points on the carbon lines: beyond, every other point is dropped (a long run keeps its whole span). */
export const MAX_RUN_POINTS = 1000;

export function isEnded(state: RunState): boolean {
  return state === 'finished' || state === 'failed';
}

/** A new run's series; `reading` is the grid intensity in effect when it is first seen. */
function newRunSeries(atMs: number, run: RunSummary, reading?: { intensityGPerKwh: number }): RunSeriesData {
  const data: RunSeriesData = { runId: run.id, command: run.command, originMs: Math.min(run.startedAtMs, atMs), lastMs: atMs, state: run.state, carbonG: [], baselineCarbonG: [], limitW: [], intensityGPerKwh: [] };
  if (reading) setStep(data.intensityGPerKwh, atMs, reading.intensityGPerKwh);
  updateRunSeries(data, atMs, run);
  return data;
}

/** Appends one update of the run; nothing for one that arrives late or comes after the run ended. */
function updateRunSeries(data: RunSeriesData, atMs: number, run: RunSummary): void {
  if (atMs < data.lastMs || (isEnded(data.state) && data.carbonG.length > 0)) return;
  data.lastMs = atMs;
  data.state = run.state;
  data.carbonG.push({ x: atMs, y: run.carbonG });
  if (run.baselineCarbonG !== undefined) data.baselineCarbonG.push({ x: atMs, y: run.baselineCarbonG });
  if (run.currentLimitMw !== undefined) setStep(data.limitW, atMs, milliwattsToWatts(run.currentLimitMw));
  else extendStep(data.limitW, atMs);
  extendStep(data.intensityGPerKwh, atMs);
  for (const line of [data.carbonG, data.baselineCarbonG]) if (line.length > MAX_RUN_POINTS) thin(line);
}

/** A new grid reading while the run is live. */
export function addReading(data: RunSeriesData, atMs: number, intensityGPerKwh: number): boolean {
  if (isEnded(data.state) || atMs < data.lastMs) return false;
  setStep(data.intensityGPerKwh, atMs, intensityGPerKwh);
  data.lastMs = atMs;
  return true;
}

/** Drops every other point, keeping the first and the last, in place (chart.js keeps watching the same array). */
function thin(points: XY[]): void {
  const kept = points.filter((_, i) => i % 2 === 0 || i === points.length - 1);
  points.splice(0, points.length, ...kept);
}

/**
 * The run the run charts show after an update: `shown`, updated, until it ends; a new series when the
 * update is from a run that started later (a new run) or `shown` has ended; else `shown` as it was,
 * so that two runs side by side do not make the charts flip between them. A new object means the
 * charts swap their data; the same object means they only redraw.
 */
export function followRun(shown: RunSeriesData | undefined, atMs: number, run: RunSummary, reading?: { intensityGPerKwh: number }): RunSeriesData {
  if (shown?.runId === run.id) {
    updateRunSeries(shown, atMs, run);
    return shown;
  }
  if (!shown || isEnded(shown.state) || run.startedAtMs > shown.originMs) return newRunSeries(atMs, run, reading);
  return shown;
}

export interface RunTimelineRow {
  atMs: number;
  intensityGPerKwh?: number;
  limitW?: number;
  phase?: RunPhase;
}

/** The run's intensity and limit changes merged by time, with the phase then: the run chart as a table. */
export function runTimeline(data: RunSeriesData, bands: PhaseBand[]): RunTimelineRow[] {
  const events = [
    ...stepChanges(data.intensityGPerKwh).map((p) => ({ atMs: p.x, intensityGPerKwh: p.y })),
    ...stepChanges(data.limitW).map((p) => ({ atMs: p.x, limitW: p.y })),
  ].sort((a, b) => a.atMs - b.atMs);
  const rows: RunTimelineRow[] = [];
  let now: RunTimelineRow = { atMs: Number.NaN };
  for (const e of events) {
    if (e.atMs !== now.atMs) {
      now = { ...now, atMs: e.atMs };
      rows.push(now);
    }
    Object.assign(now, e);
  }
  const own = bands.filter((b) => b.runId === data.runId);
  for (const r of rows) {
    const phase = own.filter((b) => b.fromMs <= r.atMs && r.atMs <= b.toMs).pop()?.phase;
    if (phase) r.phase = phase;
    else delete r.phase;
  }
  return rows;
}
