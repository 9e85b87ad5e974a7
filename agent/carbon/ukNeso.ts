/**
 * UK NESO Carbon Intensity API (https://api.carbonintensity.org.uk, no key): average intensity for
 * Great Britain in g/kWh, half-hourly. National: `/intensity` (forecast and, once published, actual;
 * `actual` may be null — the forecast is used then, marked), `/intensity/{from}/fw48h`,
 * `/intensity/{from}/{to}`. Regional (forecast values only): `/regional/regionid/{id}`,
 * `/regional/postcode/{outward}`, `/regional/intensity/{from}/fw48h/regionid/{id}` (or `/postcode/…`),
 * `/regional/intensity/{from}/{to}/regionid/{id}`. Times in paths are `YYYY-MM-DDTHH:mmZ`.
 * Errors: `{"error": {"code": "400 Bad Request", "message": "…"}}`.
 * Licence: CC BY 4.0, attribution "Carbon Intensity API (NESO)".
 *
 * Limits of the routes called (carbon-intensity/api-definitions, docs/index.html at e3f25a1): only
 * `/intensity/{from}/{to}` documents one — "The maximum date range is limited to 14 days" (line
 * 2149); `fw48h` is a fixed 48 h; `/regional/intensity/{from}/{to}/…` documents none. History is
 * therefore fetched in pages of at most 14 days on both, so the 30 days of grid-relative levels
 * (carbon/levels.ts) and the 56 days the forecaster reads are several requests, never a 400.
 */
import type { CarbonSourceInfo, ForecastPoint, IntensityPoint } from '../protocol/messages';
import { ApiProvider, HOUR_MS, MINUTE_MS, type ApiProviderDeps, type LatestPoint } from './apiProvider';
import { HttpClient, HttpStatusError, JsonReader } from './http';
import { CarbonSourceError } from './provider';

export const UK_NESO_BASE_URL = 'https://api.carbonintensity.org.uk';
export const UK_NESO_ATTRIBUTION = 'Carbon Intensity API (NESO), CC BY 4.0';
const SERVICE = 'The Carbon Intensity API (NESO)';
const HALF_HOUR_MS = 30 * MINUTE_MS;
/** The documented maximum range of `/intensity/{from}/{to}`, applied to the regional route too. */
export const UK_NESO_MAX_RANGE_MS = 14 * 24 * HOUR_MS;

export interface UkNesoOptions {
  /** "GB" (national) unless a region or postcode is set. */
  zone?: string;
  regionId?: number;
  postcode?: string;
  baseUrl?: string;
}

/** A half-hour window `{from, to, intensity: {forecast, actual?, index}}`. */
interface Window {
  timestampMs: number;
  forecast: number | null;
  actual: number | null;
}

export class UkNesoProvider extends ApiProvider {
  readonly periodMs = HALF_HOUR_MS;
  protected readonly freshForMs = HOUR_MS;
  readonly http: HttpClient;
  private readonly where: { kind: 'national' } | { kind: 'regionid'; id: number } | { kind: 'postcode'; code: string };

  constructor(options: UkNesoOptions, deps: ApiProviderDeps = {}) {
    super(deps);
    if (options.postcode?.trim()) this.where = { kind: 'postcode', code: options.postcode.trim().toUpperCase() };
    else if (options.regionId !== undefined) {
      if (!Number.isInteger(options.regionId) || options.regionId < 1 || options.regionId > 17) {
        throw new CarbonSourceError(`chase.carbon.ukRegionId must be a region id from 1 to 17 (got ${options.regionId}).`, 'invalid-settings');
      }
      this.where = { kind: 'regionid', id: options.regionId };
    } else {
      const zone = (options.zone ?? 'GB').trim().toUpperCase();
      if (zone !== '' && zone !== 'GB' && zone !== 'UK') {
        throw new CarbonSourceError(
          `The UK NESO provider covers Great Britain only (zone "${options.zone}"). Set chase.carbon.zone to "GB", or chase.carbon.ukRegionId / chase.carbon.ukPostcode for a region.`,
          'unknown-zone',
        );
      }
      this.where = { kind: 'national' };
    }
    this.http = new HttpClient({ ...deps.http, baseUrl: options.baseUrl || UK_NESO_BASE_URL, service: SERVICE, now: this.now });
  }

  get info(): CarbonSourceInfo {
    const w = this.where;
    const zone = w.kind === 'national' ? 'GB' : w.kind === 'regionid' ? `GB region ${w.id}` : `GB ${w.code}`;
    return { kind: 'uk-neso', label: `UK NESO ${zone}`, zone, signal: 'average', attribution: UK_NESO_ATTRIBUTION };
  }

  private suffix(): string {
    const w = this.where;
    return w.kind === 'regionid' ? `regionid/${w.id}` : w.kind === 'postcode' ? `postcode/${encodeURIComponent(w.code)}` : '';
  }

  private async get(path: string): Promise<JsonReader> {
    try {
      return new JsonReader(SERVICE, await this.http.getJson(path), path);
    } catch (e) {
      if (!(e instanceof HttpStatusError)) throw e;
      const why = e.apiMessage ? ` (${e.apiMessage})` : '';
      const w = this.where;
      if ((e.status === 400 || e.status === 404) && w.kind !== 'national') {
        const what = w.kind === 'postcode' ? `the postcode "${w.code}"` : `region id ${w.id}`;
        throw new CarbonSourceError(
          `${SERVICE} did not accept ${what}${why}. Set chase.carbon.ukPostcode to the outward part of a GB postcode (e.g. "RG10"), or chase.carbon.ukRegionId to 1–17.`,
          'unknown-zone',
        );
      }
      throw new CarbonSourceError(`${SERVICE} answered HTTP ${e.status} for ${e.path}${why}. Chase keeps the last reading, marked stale.`, 'unavailable');
    }
  }

  /** National answers are `{data: [window…]}`; regional ones `{data: [{regionid, …, data: [window…]}]}` or `{data: {…, data: [window…]}}`. */
  private windows(r: JsonReader): Window[] {
    const data = r.get('data');
    let list: JsonReader[];
    if (this.where.kind === 'national') list = data.items();
    else {
      const region = Array.isArray(data.value) ? data.items()[0] : data;
      if (!region) return [];
      list = region.get('data').items();
    }
    return list.map((w) => {
      const intensity = w.get('intensity');
      return {
        timestampMs: w.get('from').time(),
        forecast: intensity.has('forecast') ? nonNegative(intensity.get('forecast')) : null,
        actual: intensity.has('actual') ? nonNegative(intensity.get('actual')) : null,
      };
    });
  }

  protected async fetchLatest(nowMs: number): Promise<LatestPoint> {
    const path = this.where.kind === 'national' ? 'intensity' : `regional/${this.suffix()}`;
    const windows = this.windows(await this.get(path));
    const w = windows.filter((x) => x.timestampMs <= nowMs).sort((a, b) => b.timestampMs - a.timestampMs)[0] ?? windows[0];
    if (!w) throw new CarbonSourceError(`${SERVICE} sent no data for ${this.info.zone}. Chase tries again next period.`, 'unavailable');
    if (w.actual !== null) return { timestampMs: w.timestampMs, intensityGPerKwh: w.actual };
    if (w.forecast !== null) return { timestampMs: w.timestampMs, intensityGPerKwh: w.forecast, forecastValue: true };
    throw new CarbonSourceError(`${SERVICE} has neither an actual nor a forecast value for ${this.info.zone} now. Chase tries again next period.`, 'unavailable');
  }

  protected async fetchHistory(fromMs: number, toMs: number): Promise<IntensityPoint[]> {
    // path times have minute precision: page on whole minutes so no page spans more than the limit
    const startMs = Math.floor(fromMs / MINUTE_MS) * MINUTE_MS;
    const endMs = Math.min(toMs, this.now() + HALF_HOUR_MS);
    if (startMs >= endMs) return [];
    const byStart = new Map<number, IntensityPoint>();
    for (let pageMs = startMs; pageMs < endMs; pageMs += UK_NESO_MAX_RANGE_MS) {
      const range = `${pathTime(pageMs)}/${pathTime(Math.min(endMs, pageMs + UK_NESO_MAX_RANGE_MS))}`;
      const path = this.where.kind === 'national' ? `intensity/${range}` : `regional/intensity/${range}/${this.suffix()}`;
      // a window on a page boundary may come with both pages: one point per window start
      for (const w of this.windows(await this.get(path))) {
        const value = w.actual ?? w.forecast;
        if (value !== null) byStart.set(w.timestampMs, { timestampMs: w.timestampMs, intensityGPerKwh: value });
      }
    }
    return [...byStart.values()];
  }

  protected async fetchForecast(fromMs: number): Promise<ForecastPoint[]> {
    const from = pathTime(fromMs);
    const path = this.where.kind === 'national' ? `intensity/${from}/fw48h` : `regional/intensity/${from}/fw48h/${this.suffix()}`;
    return this.windows(await this.get(path))
      .filter((w): w is Window & { forecast: number } => w.forecast !== null)
      .map((w) => ({ timestampMs: w.timestampMs, intensityGPerKwh: w.forecast }));
  }
}

function nonNegative(r: JsonReader): number | null {
  return r.isNull() ? null : r.intensity();
}

/** `YYYY-MM-DDTHH:mmZ`, the API's path time format. */
export function pathTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16) + 'Z';
}
