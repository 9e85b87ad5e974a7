/**
 * When to raise a carbon alert: a run is live, the grid just crossed into its "high" level (from
 * low/medium or unknown), the user has not muted alerts for today, and no alert fired in the last
 * hour; or, while a run is live and the grid is not low, a low period is expected within 6 hours.
 * No `vscode` import (the clock, the agent and the notification are injected), so every rule is
 * unit-tested; extension/alerts.ts wires it to the agent and shows the notifications.
 */
import type { ForecastPoint, IntensityLevels, IntensitySeriesParams, IntensitySeriesResult, RunSummary } from '../agent/protocol/messages';
import { HOUR_MS } from '../agent/protocol/units';
import { effectiveLevels, levelOf, PerReading, type ClientState, type IntensityLevel, type StatusExtras } from './statusModel';
import { formatIntensity, formatUtcClock, formatWatts, INTENSITY_UNIT as UNIT } from '../agent/protocol/format';

/** How far ahead a "cleaner window soon" alert looks. */
export const CLEANER_WINDOW_AHEAD_MS = 6 * HOUR_MS;

export const ALERT_MIN_GAP_MS = HOUR_MS;

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

/** What the alert rules read and do; the real ones come from the agent client, globalState and the window. */
export interface AlertDeps {
  intensitySeries(params: IntensitySeriesParams): Promise<IntensitySeriesResult>;
  liveRuns(): RunSummary[];
  /** The user's level thresholds, applied over the grid's own (same as the status bar). */
  thresholds(): StatusExtras['thresholds'];
  /** "Mute for today", until this time. */
  mutedUntilMs(): number | undefined;
  nowMs(): number;
  notify(message: string): void;
}

/** Feeds every client state change through the rules; remembers the last level and the last alert. */
export class CarbonAlertRules {
  private previousLevel: IntensityLevel | undefined;
  private lastAlertMs: number | undefined;
  /** The agent pushes a state on every GPU sample and staleness flip too: the forecast is asked once per reading. */
  private readonly nextHours: PerReading<IntensitySeriesResult>;

  constructor(private readonly deps: AlertDeps) {
    this.nextHours = new PerReading(() => deps.intensitySeries({ pastHours: 0, futureHours: CLEANER_WINDOW_AHEAD_MS / HOUR_MS }));
  }

  onState(s: ClientState): void {
    if (s.kind !== 'running' || s.carbon.state !== 'ok' || s.carbon.stale) return;
    const carbon = s.carbon;
    const levels = effectiveLevels(carbon.levels, this.deps.thresholds());
    const level = levelOf(carbon.intensityGPerKwh, levels);
    const now = this.deps.nowMs();
    const live = this.deps.liveRuns();
    const mutedUntilMs = this.deps.mutedUntilMs();
    if (shouldAlert({ previousLevel: this.previousLevel, level, liveRuns: live.length, nowMs: now, lastAlertMs: this.lastAlertMs, mutedUntilMs })) {
      this.lastAlertMs = now;
      const runs = live.map((r) => `${r.command}${r.currentLimitMw ? ` (power limit now ${formatWatts(r.currentLimitMw)})` : ''}`).join('; ');
      this.deps.notify(`Grid carbon intensity is high: ${formatIntensity(carbon.intensityGPerKwh)} ${UNIT} in ${carbon.source.zone} (high above ${formatIntensity(levels!.highAboveGPerKwh)}). Chase holds its runs' GPUs at lower power while it lasts, within each run's slowdown budget: ${runs}.`);
    } else if (live.length > 0 && (this.lastAlertMs === undefined || now - this.lastAlertMs >= ALERT_MIN_GAP_MS) && now >= (mutedUntilMs ?? 0)) {
      void this.nextHours.get(carbon)?.then((series) => {
        if (!series) return;
        const clean = cleanerWindow(level, levels, series.forecast, series.nowMs);
        if (!clean || (this.lastAlertMs !== undefined && this.deps.nowMs() - this.lastAlertMs < ALERT_MIN_GAP_MS)) return;
        this.lastAlertMs = this.deps.nowMs();
        this.deps.notify(`A cleaner window is expected at ${formatUtcClock(clean.timestampMs)} UTC (${formatIntensity(clean.intensityGPerKwh)} ${UNIT}, low for ${carbon.source.zone}): Chase will let your runs go faster then.`);
      });
    }
    this.previousLevel = level;
  }
}
