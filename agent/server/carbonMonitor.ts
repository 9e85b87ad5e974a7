/**
 * Keeps the agent's current carbon status: owns the provider made from the settings, reads it once
 * per period, and reports every change through `onStatus`.
 *
 * States: `error` ("not configured yet") → configure(settings) → `ok` (a reading) or `error` (bad
 * settings, source unavailable); reject(message) → `error` (settings that failed validation). A
 * later configure() replaces the provider; a failed refresh of a working provider keeps the last
 * reading but marks it stale once its period has passed — never a stale number shown as fresh.
 *
 * No connection here: the wiring (server/connection.ts) passes `onStatus` and a clock; tests pass fakes.
 */
import type { AgentSettings, CarbonStatus, IntensitySeriesParams, IntensitySeriesResult } from '../protocol/messages';
import { AgentErrorCodes } from '../protocol/messages';
import { createProvider } from '../carbon/index';
import { CarbonSourceError, type CarbonProvider, type CarbonReading } from '../carbon/provider';
import { RunCarbon } from '../runs/runCarbon';
import { createLogger, describeError, userMessage } from '../log';
import { LEVEL_WINDOW_DAYS, levelsFrom, trendOf } from '../carbon/levels';
import type { ForecastPoint, IntensityLevels, IntensityTrend } from '../protocol/messages';
import { createForecaster } from '../forecast/index';
import type { Forecaster } from '../forecast/types';
import { DAY_MS, HOUR_MS } from '../protocol/units';

const MODEL_HISTORY_DAYS = 56;

export interface CarbonMonitorDeps {
  /** Wall clock, epoch ms. */
  now(): number;
  onStatus(status: CarbonStatus): void;
  setTimer(callback: () => void, delayMs: number): { dispose(): void };
  createProvider?: typeof createProvider;
}

export class CarbonMonitor {
  private provider: CarbonProvider | undefined;
  private current: CarbonStatus = {
    state: 'error',
    code: AgentErrorCodes.carbonSourceUnavailable,
    message: 'The agent has not been configured yet.',
  };
  private lastReading: CarbonReading | undefined;
  /** Levels are recomputed at most once a (provider) day. */
  private forecaster: Forecaster | undefined;
  private levels: { computedForDay: number; levels: IntensityLevels | undefined } | undefined;
  private timer: { dispose(): void } | undefined;
  private generation = 0;
  private readonly log = createLogger('carbon');

  constructor(private readonly deps: CarbonMonitorDeps) {}

  get status(): CarbonStatus {
    return this.current;
  }

  /** The working provider, for runs (undefined while the source is in error). */
  get currentProvider(): CarbonProvider | undefined {
    return this.current.state === 'ok' ? this.provider : undefined;
  }

  /** Applies new settings; resolves with the first status under them. Never throws for bad settings. */
  async configure(settings: AgentSettings): Promise<CarbonStatus> {
    this.stopTimer();
    this.provider?.dispose?.();
    this.provider = undefined;
    this.lastReading = undefined;
    this.levels = undefined;
    const generation = ++this.generation;
    try {
      this.provider = (this.deps.createProvider ?? createProvider)(settings.carbon, this.deps.now(), settings.secrets ?? {});
      this.log.info(`source: ${this.provider.info.label}`);
    } catch (e) {
      this.setStatus(errorStatus(e));
      return this.current;
    }
    await this.refresh(generation);
    return this.current;
  }

  /** Settings that failed validation: drop the provider and show why. */
  reject(message: string): void {
    this.dispose();
    this.setStatus({ state: 'error', code: AgentErrorCodes.invalidSettings, message });
  }

  /** `params` were checked against the method's schema (0 to MAX_SERIES_HOURS each way). */
  async series({ pastHours, futureHours }: IntensitySeriesParams): Promise<IntensitySeriesResult> {
    const provider = this.requireProvider();
    const nowMs = this.providerNow(provider);
    const actual = await provider.history(nowMs - pastHours * HOUR_MS, nowMs + 1);
    const nextPeriodMs = Math.floor(nowMs / provider.periodMs) * provider.periodMs + provider.periodMs;
    const own = await provider.forecast(nextPeriodMs, futureHours).catch((e: unknown) => {
      this.log.warn(`provider forecast failed: ${describeError(e)}`);
      return undefined;
    });
    if (own && own.length > 0) return { source: provider.info, nowMs, actual, forecast: own, forecastModel: provider.info.kind === 'replay' ? 'trace' : provider.info.kind };
    // The provider has no forecast (not in the plan, or none offered): Chase's own model, with its band.
    return { source: provider.info, nowMs, actual, forecast: await this.modelForecast(provider, nextPeriodMs, futureHours), forecastModel: 'chase default' };
  }

  /** The project's default forecaster on the provider's own recent history (information rule: only the past). */
  private async modelForecast(provider: CarbonProvider, nextPeriodMs: number, hours: number): Promise<ForecastPoint[]> {
    const past = await provider.history(nextPeriodMs - MODEL_HISTORY_DAYS * DAY_MS, nextPeriodMs);
    if (past.length < 2) return [];
    this.forecaster ??= createForecaster('default');
    const steps = Math.max(1, Math.round((hours * HOUR_MS) / provider.periodMs));
    const out = this.forecaster.forecast({ history: Float64Array.from(past.map((p) => p.intensityGPerKwh)), stepMs: provider.periodMs, nextTimestampMs: nextPeriodMs, horizonSteps: steps });
    return Array.from(out.mean, (mean, i) => ({
      timestampMs: nextPeriodMs + i * provider.periodMs,
      intensityGPerKwh: mean,
      ...(out.low && out.high ? { lowGPerKwh: out.low[i], highGPerKwh: out.high[i] } : {}),
    }));
  }

  dispose(): void {
    this.stopTimer();
    this.generation++;
    this.provider?.dispose?.();
    this.provider = undefined;
  }

  private requireProvider(): CarbonProvider {
    if (!this.provider) {
      const message = this.current.state === 'error' ? this.current.message : 'No carbon source is configured.';
      throw new CarbonSourceError(message, 'unavailable');
    }
    return this.provider;
  }

  /** The provider's notion of now: virtual time for a sped-up replay, the wall clock otherwise. */
  private providerNow(provider: CarbonProvider): number {
    return new RunCarbon(provider).virtualNow(this.deps.now());
  }

  private async refresh(generation: number): Promise<void> {
    const provider = this.provider;
    if (!provider || generation !== this.generation) return;
    const wall = this.deps.now();
    try {
      const reading = await provider.latest(wall);
      if (generation !== this.generation) return;
      this.lastReading = reading;
      const { trend, levels } = await this.context(provider, reading);
      if (generation !== this.generation) return;
      const notes = [...(provider.notices ?? []), ...(reading.note ? [reading.note] : [])];
      this.setStatus({
        state: 'ok',
        source: provider.info,
        intensityGPerKwh: reading.intensityGPerKwh,
        timestampMs: reading.timestampMs,
        periodMs: provider.periodMs,
        fetchedAtMs: reading.fetchedAtMs,
        stale: reading.stale,
        ...(reading.staleReason ? { staleReason: reading.staleReason } : {}),
        ...(trend ? { trend } : {}),
        ...(levels ? { levels } : {}),
        ...(notes.length > 0 ? { notes } : {}),
      });
    } catch (e) {
      if (generation !== this.generation) return;
      this.log.warn(`refresh failed: ${describeError(e)}`);
      const last = this.lastReading;
      if (last && this.current.state === 'ok') {
        this.setStatus({ ...this.current, stale: true, staleReason: `last reading kept: ${userMessage(e, 'the carbon source')}` });
      } else {
        this.setStatus(errorStatus(e, provider));
      }
    }
    this.scheduleNext(provider, generation);
  }

  /** The reading is for an earlier period than now: the source has not published this one yet. */
  private behind(provider: CarbonProvider): boolean {
    const last = this.lastReading;
    if (!last) return false;
    const now = this.providerNow(provider);
    return last.timestampMs + provider.periodMs <= now;
  }

  /** Trend (from the next period's expected value) and grid-relative levels; best effort. */
  private async context(provider: CarbonProvider, reading: CarbonReading): Promise<{ trend?: IntensityTrend; levels?: IntensityLevels }> {
    let trend: IntensityTrend | undefined;
    try {
      const next = await provider.forecast(reading.timestampMs + provider.periodMs, provider.periodMs / HOUR_MS);
      trend = trendOf(reading.intensityGPerKwh, next?.[0]?.intensityGPerKwh);
    } catch (e) {
      this.log.debug(`no forecast for the trend: ${describeError(e)}`);
    }
    const day = Math.floor(reading.timestampMs / DAY_MS);
    if (this.levels?.computedForDay !== day) {
      try {
        const recent = await provider.history(reading.timestampMs - LEVEL_WINDOW_DAYS * DAY_MS, reading.timestampMs);
        this.levels = { computedForDay: day, levels: levelsFrom(recent.map((p) => p.intensityGPerKwh)) };
      } catch (e) {
        this.log.debug(`no history for levels: ${describeError(e)}`);
        this.levels = { computedForDay: day, levels: undefined };
      }
    }
    return { ...(trend ? { trend } : {}), ...(this.levels.levels ? { levels: this.levels.levels } : {}) };
  }

  private scheduleNext(provider: CarbonProvider, generation: number): void {
    const wall = this.deps.now();
    let delayMs = new RunCarbon(provider).nextPeriodWallMs(wall) - wall;
    // Not published yet: ask again after a quarter period instead of waiting a whole one (a replay
    // is never behind).
    if (this.behind(provider)) delayMs = Math.min(delayMs, provider.periodMs / 4);
    this.stopTimer();
    this.timer = this.deps.setTimer(() => void this.refresh(generation), Math.max(50, Math.ceil(delayMs)));
  }

  private stopTimer(): void {
    this.timer?.dispose();
    this.timer = undefined;
  }

  private setStatus(status: CarbonStatus): void {
    if (sameStatus(this.current, status)) return;
    this.current = status;
    this.deps.onStatus(status);
  }
}

export function errorStatus(e: unknown, provider?: CarbonProvider): CarbonStatus {
  const code =
    e instanceof CarbonSourceError
      ? e.kind === 'invalid-settings'
        ? AgentErrorCodes.invalidSettings
        : e.kind === 'unknown-zone'
          ? AgentErrorCodes.unknownZone
          : AgentErrorCodes.carbonSourceUnavailable
      : AgentErrorCodes.carbonSourceUnavailable;
  return { state: 'error', code, message: userMessage(e, 'the carbon source'), ...(provider ? { source: provider.info } : {}) };
}

function sameStatus(a: CarbonStatus, b: CarbonStatus): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
