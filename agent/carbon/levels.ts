/** Grid-relative levels and trend of carbon intensity: pure functions over readings. */
import type { IntensityLevels, IntensityTrend } from '../protocol/messages';

export const LEVEL_WINDOW_DAYS = 30;
export const LEVEL_PERCENTILES = [33, 67] as const;
const STEADY_BAND = 0.03;

/** Linear-interpolated percentile (0–100) of the values; NaN for none. */
export function percentile(values: ArrayLike<number>, pct: number): number {
  const sorted = Array.from(values).filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = (Math.min(100, Math.max(0, pct)) / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Thresholds from the grid's recent readings; undefined with fewer than a day of them. */
export function levelsFrom(recentGPerKwh: ArrayLike<number>, minPoints = 24): IntensityLevels | undefined {
  if (recentGPerKwh.length < minPoints) return undefined;
  const [lowPct, highPct] = LEVEL_PERCENTILES;
  return {
    lowBelowGPerKwh: percentile(recentGPerKwh, lowPct),
    highAboveGPerKwh: percentile(recentGPerKwh, highPct),
    basis: `percentiles ${lowPct}/${highPct} of the last ${LEVEL_WINDOW_DAYS} days (${recentGPerKwh.length} readings)`,
  };
}

export function trendOf(currentGPerKwh: number, nextGPerKwh: number | undefined): IntensityTrend | undefined {
  if (nextGPerKwh === undefined || !Number.isFinite(nextGPerKwh) || !(currentGPerKwh > 0)) return undefined;
  const change = (nextGPerKwh - currentGPerKwh) / currentGPerKwh;
  return change > STEADY_BAND ? 'rising' : change < -STEADY_BAND ? 'falling' : 'steady';
}
