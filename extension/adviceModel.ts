/**
 * Start-time advice (chase.advice.*), decided once for the task terminal and the dashboard: whether
 * the agent's answer to `chase/startAdvice` is worth saying, and in which words. Pure (no vscode),
 * so both faces say the same thing and a unit test pins it. Chase never postpones on its own: this
 * only words a choice the user makes.
 */
import type { StartAdviceResult } from '../agent/protocol/messages';
import { formatUtcClock } from '../agent/protocol/format';
import { startAdviceText } from '../agent/protocol/runOutcome';

export interface StartAdvice {
  /** "starting at 02:00 UTC instead of now would cut this run's projected carbon by 23.0 % (…)". */
  text: string;
  /** What the estimate of the run's length rests on (the stored profile and totalUnits…). */
  basis: string;
  /** The later start as the user reads it, "02:00 UTC" (carbon clock: a sped-up replay's own time). */
  startAtText: string;
  /** When to start, wall clock, epoch ms. */
  startAtMs: number;
}

/**
 * Advice to show, or undefined: none when the agent has none, when the cut is not above the user's
 * threshold (`thresholdPct`, %), or when the better start is not in the future any more.
 */
export function adviceToShow(result: StartAdviceResult | undefined, thresholdPct: number, nowMs: number): StartAdvice | undefined {
  const a = result?.advice;
  if (!a || !(a.cutPct > thresholdPct) || a.startAtMs <= nowMs) return undefined;
  return {
    text: startAdviceText(a),
    basis: result.basis ?? 'the stored profile',
    startAtText: `${formatUtcClock(a.startAtCarbonMs)} UTC`,
    startAtMs: a.startAtMs,
  };
}
