/**
 * The x axis of the dashboard's live charts (GPU power, the run): time elapsed since an origin (the
 * first sample, the run's first update), in seconds, minutes or hours by the span shown, with ticks
 * on round steps from the origin. Chart.js's own linear axis gave −1…1 for a single sample and
 * 0…0.09 "minutes" for a short run. Values stay epoch ms (the data is never rescaled); only the
 * ticks and their labels depend on the span.
 */
import { HOUR_MS } from '../../agent/protocol/units';

export type TimeUnit = 's' | 'min' | 'h';

export interface TimeTick {
  valueMs: number;
  label: string;
}

export interface TimeAxis {
  /** Where the count starts (0 on the axis). */
  originMs: number;
  minMs: number;
  maxMs: number;
  unit: TimeUnit;
  /** e.g. "minutes since the run started" */
  title: string;
  ticks: TimeTick[];
}

const UNIT_MS: Record<TimeUnit, number> = { s: 1000, min: 60_000, h: HOUR_MS };
const UNIT_WORD: Record<TimeUnit, string> = { s: 'seconds', min: 'minutes', h: 'hours' };
/** Round steps per unit, smallest first. */
const STEPS: Record<TimeUnit, number[]> = { s: [1, 2, 5, 10, 15, 30], min: [0.5, 1, 2, 5, 10, 15, 30], h: [0.5, 1, 2, 3, 6, 12, 24, 48, 168] };
/** A single sample (or a few seconds) still gets a readable axis: at least this much is shown. */
export const MIN_SPAN_MS = 30_000;
/** At most this many intervals between ticks. */
const MAX_INTERVALS = 8;

/** Seconds up to 3 minutes, minutes up to 3 hours, then hours. */
function unitFor(spanMs: number): TimeUnit {
  return spanMs <= 3 * UNIT_MS.min ? 's' : spanMs <= 3 * UNIT_MS.h ? 'min' : 'h';
}

/**
 * The axis over `fromMs`…`lastMs` (at least {@link MIN_SPAN_MS}), counting from `originMs` (≤ fromMs:
 * the first sample, kept as the origin while older samples drop out of the window, so ticks stay put)
 * and ending on a tick. `sinceWhat` completes the title: "since the first sample".
 */
export function timeAxis(originMs: number, fromMs: number, lastMs: number, sinceWhat: string): TimeAxis {
  const spanMs = Math.max(MIN_SPAN_MS, lastMs - fromMs);
  const unit = unitFor(spanMs);
  const unitMs = UNIT_MS[unit];
  const steps = STEPS[unit];
  const step = steps.find((s) => spanMs / (s * unitMs) <= MAX_INTERVALS) ?? steps[steps.length - 1];
  const stepMs = step * unitMs;
  // 1e-9: a span of exactly k steps ends on tick k, not k + 1
  const first = Math.ceil((fromMs - originMs) / stepMs - 1e-9);
  const last = Math.ceil((fromMs + spanMs - originMs) / stepMs - 1e-9);
  const ticks: TimeTick[] = [];
  for (let k = Math.max(0, first); k <= last; k++) ticks.push({ valueMs: originMs + k * stepMs, label: formatNumber(k * step) });
  return { originMs, minMs: fromMs, maxMs: originMs + last * stepMs, unit, title: `${UNIT_WORD[unit]} ${sinceWhat}`, ticks };
}

/** Elapsed time for tooltips: "0:05", "12:30", "1:02:03" (h:mm:ss). */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** "1.5", "2", "0.5": no trailing zeros, no float noise. */
function formatNumber(x: number): string {
  return String(Number(x.toFixed(3)));
}
