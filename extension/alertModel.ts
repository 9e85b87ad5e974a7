/**
 * When to raise a carbon alert: a run is live, the grid just crossed into its "high" level (from
 * low/medium or unknown), the user has not muted alerts for today, and no alert fired in the last
 * hour. Pure, so every rule is unit-tested.
 */
import type { ForecastPoint, IntensityLevels } from '../agent/protocol/messages';
import type { IntensityLevel } from './statusModel';

/** How far ahead a "cleaner window soon" alert looks. */
export const CLEANER_WINDOW_AHEAD_MS = 6 * 60 * 60 * 1000;

export const ALERT_MIN_GAP_MS = 60 * 60 * 1000;

export interface AlertInput {
  previousLevel: IntensityLevel | undefined;
  level: IntensityLevel | undefined;
  liveRuns: number;
  nowMs: number;
  lastAlertMs: number | undefined;
  mutedUntilMs: number | undefined;
}

export function shouldAlert(a: AlertInput): boolean {
  if (a.liveRuns === 0 || a.level !== 'high' || a.previousLevel === 'high') return false;
  if (a.mutedUntilMs !== undefined && a.nowMs < a.mutedUntilMs) return false;
  return a.lastAlertMs === undefined || a.nowMs - a.lastAlertMs >= ALERT_MIN_GAP_MS;
}

/** "Mute for today": until the next local midnight. */
export function endOfLocalDay(nowMs: number): number {
  const d = new Date(nowMs);
  d.setHours(24, 0, 0, 0);
  return d.getTime();
}

/** The first expected period within the next hours that is low for this grid, when now is not. */
export function cleanerWindow(level: IntensityLevel | undefined, levels: IntensityLevels | undefined, next: ForecastPoint[], nowMs: number): ForecastPoint | undefined {
  if (!levels || level === undefined || level === 'low') return undefined;
  return next.find((p) => p.timestampMs > nowMs && p.timestampMs - nowMs <= CLEANER_WINDOW_AHEAD_MS && p.intensityGPerKwh < levels.lowBelowGPerKwh);
}
