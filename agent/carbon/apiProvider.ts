/**
 * What the web-API providers share: a cache matched to the provider's period, the staleness rule,
 * and the offline fallback.
 *
 * - `latest(now)` is fetched at most once per period (the period containing `now`) — or, while the
 *   API still returns an earlier period, again after a quarter period; the API's value is `stale`
 *   when older than `freshForMs`, and rejected as "no recent data" when older than `maxAgeMs`.
 * - On a transient failure (unreachable, timeout, 5xx, 429, malformed body) `latest` falls back to
 *   the provider's own forecast for the current period if one was fetched, else to the last good
 *   reading (at most `maxFallbackAgeMs` old) — always `stale: true` with the reason. Auth, unknown
 *   zone and settings errors are thrown: the user has to act.
 * - `history` / `forecast` responses are cached until the end of the current period; on failure the
 *   last good series (trimmed to the request) is returned, or the error thrown when there is none.
 */
import type { CarbonSourceInfo, ForecastPoint, IntensityPoint } from '../protocol/messages';
import { redact, type HttpClientOptions } from './http';
import { CarbonSourceError, type CarbonProvider, type CarbonReading } from './provider';
import { userMessage } from '../log';
import { HOUR_MS } from '../protocol/units';
import { formatUtc } from '../protocol/format';

export { HOUR_MS };
export const MINUTE_MS = 60_000;

/** Test and embedding hooks shared by the API providers. */
export interface ApiProviderDeps {
  now?: () => number;
  /** Overrides for the HTTP layer (timeouts, retries, sleep, random). */
  http?: Partial<Omit<HttpClientOptions, 'baseUrl' | 'service' | 'secrets'>>;
}

/** A point fetched as "latest", possibly a forecast value standing in for a missing actual. */
export interface LatestPoint extends IntensityPoint {
  /** True when the API had no measured value yet and its forecast for the period is used. */
  forecastValue?: boolean;
}

const TRANSIENT: ReadonlyArray<CarbonSourceError['kind']> = ['unavailable', 'rate-limited', 'malformed'];

export abstract class ApiProvider implements CarbonProvider {
  abstract readonly info: CarbonSourceInfo;
  abstract readonly periodMs: number;
  /** A reading older than this (from its period start) is stale. */
  protected abstract readonly freshForMs: number;
  /** A reading older than this is "no recent data": an error, not a reading. */
  protected maxAgeMs = 24 * HOUR_MS;
  /** The offline fallback shows nothing older than this. */
  protected maxFallbackAgeMs = 24 * HOUR_MS;
  protected readonly now: () => number;

  private latestCache: { periodStart: number; validUntilMs: number; reading: CarbonReading } | undefined;
  private lastGood: CarbonReading | undefined;
  private seriesCache = new Map<string, { validUntilMs: number; fetchedAtMs: number; points: ForecastPoint[] | undefined }>();
  private lastHistory: IntensityPoint[] = [];
  private lastForecast: { points: ForecastPoint[]; fetchedAtMs: number } | undefined;
  private readonly noticeMap = new Map<string, string>();
  /** The last failure (for the status and the CLI), cleared by a success. */
  lastError: CarbonSourceError | undefined;

  constructor(deps: ApiProviderDeps = {}) {
    this.now = deps.now ?? Date.now;
  }

  /** Notes the status can show next to the reading, e.g. that the forecast is not in the plan. */
  get notices(): string[] {
    return [...this.noticeMap.values()];
  }

  protected setNotice(key: string, text: string | undefined): void {
    if (text) this.noticeMap.set(key, text);
    else this.noticeMap.delete(key);
  }

  /** Secret values to keep out of every message (the HTTP layer redacts its own; this covers the rest). */
  protected secretValues(): Array<string | undefined> {
    return [];
  }

  private toError(e: unknown): CarbonSourceError {
    const err = asSourceError(e, this.info.label);
    const clean = redact(err.message, this.secretValues());
    return clean === err.message ? err : new CarbonSourceError(clean, err.kind);
  }

  protected abstract fetchLatest(nowMs: number): Promise<LatestPoint>;
  protected abstract fetchHistory(fromMs: number, toMs: number): Promise<IntensityPoint[]>;
  /**
   * Which history requests share a cached response: by default one per (from, to) period range; an
   * API with one fixed history window (Electricity Maps' last 24 h) answers every range from one.
   */
  protected historyCacheKey(fromMs: number, toMs: number): string {
    return `h:${this.periodStart(fromMs)}:${this.periodStart(toMs)}`;
  }
  /** Undefined when the provider has no forecast for this account or zone. */
  protected abstract fetchForecast(fromMs: number, hours: number): Promise<ForecastPoint[] | undefined>;

  private periodStart(t: number): number {
    return Math.floor(t / this.periodMs) * this.periodMs;
  }

  async latest(nowMs: number): Promise<CarbonReading> {
    const period = this.periodStart(nowMs);
    const hit = this.latestCache;
    if (hit && hit.periodStart === period && nowMs < hit.validUntilMs) return { ...hit.reading };
    try {
      const p = await this.fetchLatest(nowMs);
      const ageMs = nowMs - p.timestampMs;
      if (ageMs > this.maxAgeMs) {
        throw new CarbonSourceError(
          `${this.info.label}: no recent data for ${this.info.zone} (the newest value is from ${formatUtc(p.timestampMs)}). Choose another zone, or set chase.carbon.provider to "replay".`,
          'unavailable',
        );
      }
      const stale = ageMs > this.freshForMs;
      const note = p.forecastValue ? `No measured value yet for ${formatUtc(p.timestampMs)}: showing the API's forecast for it.` : undefined;
      const reading: CarbonReading = {
        timestampMs: p.timestampMs,
        intensityGPerKwh: p.intensityGPerKwh,
        fetchedAtMs: nowMs,
        stale,
        ...(stale ? { staleReason: `${this.info.label} has no value newer than ${formatUtc(p.timestampMs)} for ${this.info.zone}; showing that one.` } : {}),
        ...(note ? { note } : {}),
      };
      this.setNotice('forecast-value', note);
      // A value for the current period is kept until the period ends; one the API has not caught up
      // on yet (an earlier period) only for a quarter period, so the new one is picked up soon.
      const validUntilMs = p.timestampMs >= period ? period + this.periodMs : Math.min(period + this.periodMs, nowMs + Math.max(MINUTE_MS, this.periodMs / 4));
      this.latestCache = { periodStart: period, validUntilMs, reading };
      this.lastGood = reading;
      this.lastError = undefined;
      return { ...reading };
    } catch (e) {
      const err = this.toError(e);
      this.lastError = err;
      const fallback = TRANSIENT.includes(err.kind) ? this.fallback(nowMs, err) : undefined;
      if (fallback) return fallback;
      throw err;
    }
  }

  /** Offline fallback: the forecast for now, else the last good value; always marked stale. */
  private fallback(nowMs: number, err: CarbonSourceError): CarbonReading | undefined {
    const f = this.lastForecast;
    if (f && nowMs - f.fetchedAtMs <= this.maxFallbackAgeMs) {
      const p = f.points.find((q) => q.timestampMs <= nowMs && nowMs < q.timestampMs + this.periodMs);
      if (p) {
        return {
          timestampMs: p.timestampMs,
          intensityGPerKwh: p.intensityGPerKwh,
          fetchedAtMs: f.fetchedAtMs,
          stale: true,
          staleReason: `${err.message} Showing the forecast for this period made at ${formatUtc(f.fetchedAtMs)}.`,
        };
      }
    }
    const last = this.lastGood;
    if (last && nowMs - last.timestampMs <= this.maxFallbackAgeMs) {
      return { ...last, stale: true, staleReason: `${err.message} Showing the last reading, from ${formatUtc(last.timestampMs)}.` };
    }
    return undefined;
  }

  async history(fromMs: number, toMs: number): Promise<IntensityPoint[]> {
    try {
      const { points } = await this.cachedSeries(this.historyCacheKey(fromMs, toMs), () => this.fetchHistory(fromMs, toMs));
      this.lastHistory = points ?? [];
      return this.lastHistory.filter((p) => p.timestampMs >= fromMs && p.timestampMs < toMs);
    } catch (e) {
      const err = this.toError(e);
      const kept = this.lastHistory.filter((p) => p.timestampMs >= fromMs && p.timestampMs < toMs);
      if (TRANSIENT.includes(err.kind) && kept.length > 0) return kept;
      throw err;
    }
  }

  async forecast(fromMs: number, hours: number): Promise<ForecastPoint[] | undefined> {
    const toMs = fromMs + hours * HOUR_MS;
    try {
      const { points, fetchedAtMs } = await this.cachedSeries(`f:${this.periodStart(fromMs)}:${hours}`, () => this.fetchForecast(fromMs, hours));
      if (points === undefined) return undefined;
      if (!this.lastForecast || fetchedAtMs >= this.lastForecast.fetchedAtMs) this.lastForecast = { points, fetchedAtMs };
      return points.filter((p) => p.timestampMs >= fromMs && p.timestampMs < toMs);
    } catch (e) {
      const err = this.toError(e);
      const kept = this.lastForecast?.points.filter((p) => p.timestampMs >= fromMs && p.timestampMs < toMs) ?? [];
      if (TRANSIENT.includes(err.kind) && kept.length > 0) return kept;
      throw err;
    }
  }

  /** Caches a series until the end of the current period. */
  private async cachedSeries<T extends IntensityPoint>(key: string, fetch: () => Promise<T[] | undefined>): Promise<{ points: T[] | undefined; fetchedAtMs: number }> {
    const now = this.now();
    const hit = this.seriesCache.get(key);
    if (hit && now < hit.validUntilMs) return { points: hit.points as T[] | undefined, fetchedAtMs: hit.fetchedAtMs };
    const points = await fetch();
    if (points) points.sort((a, b) => a.timestampMs - b.timestampMs);
    for (const [k, v] of this.seriesCache) if (now >= v.validUntilMs) this.seriesCache.delete(k);
    this.seriesCache.set(key, { validUntilMs: this.periodStart(now) + this.periodMs, fetchedAtMs: now, points });
    return { points, fetchedAtMs: now };
  }

  dispose(): void {
    this.seriesCache.clear();
  }
}

export function asSourceError(e: unknown, label: string): CarbonSourceError {
  if (e instanceof CarbonSourceError) return e;
  return new CarbonSourceError(`${label}: unexpected failure (${userMessage(e, label)}).`, 'unavailable');
}
