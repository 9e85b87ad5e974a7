/**
 * Electricity Maps API v3 (https://api.electricitymaps.com/v3): average carbon intensity, g/kWh,
 * hourly. Auth: the `auth-token` header. Endpoints: `carbon-intensity/latest`, `/history` (last 24 h),
 * `/forecast` (paid plans only: a 401/403 there degrades to Chase's own forecast and sets a notice).
 * A zone id or `lat`/`lon`; `emissionFactorType` direct|lifecycle; `disableEstimations`.
 * Errors arrive as JSON `{"error": "…"}`.
 */
import { DEFAULT_EMISSION_FACTOR_TYPE, type CarbonSourceInfo, type EmissionFactorType, type ForecastPoint, type IntensityPoint } from '../protocol/messages';
import { ApiProvider, HOUR_MS, type ApiProviderDeps, type LatestPoint } from './apiProvider';
import { HttpClient, HttpStatusError, JsonReader } from './http';
import { CarbonSourceError } from './provider';

export const ELECTRICITY_MAPS_BASE_URL = 'https://api.electricitymaps.com/v3';
const SERVICE = 'Electricity Maps';
const SET_KEY = "Set it with the command 'Chase: Set API Key' (for the CLI: the CHASE_ELECTRICITYMAPS_TOKEN environment variable)";

export interface ElectricityMapsOptions {
  token: string | undefined;
  zone?: string;
  latitude?: number;
  longitude?: number;
  /** DEFAULT_EMISSION_FACTOR_TYPE when absent (never the API's own default, lifecycle). */
  emissionFactorType?: EmissionFactorType;
  disableEstimations?: boolean;
  baseUrl?: string;
}

export class ElectricityMapsProvider extends ApiProvider {
  readonly periodMs = HOUR_MS;
  /** Electricity Maps publishes the current hour, sometimes an hour late. */
  protected readonly freshForMs = 2 * HOUR_MS;
  readonly http: HttpClient;
  private zone: string;
  private readonly token: string;
  /** Set when the forecast endpoint is not in the plan: not asked again until then. */
  private forecastDeniedUntilMs = 0;

  constructor(
    private readonly options: ElectricityMapsOptions,
    deps: ApiProviderDeps = {},
  ) {
    super(deps);
    const token = options.token?.trim();
    if (!token) throw new CarbonSourceError(`Electricity Maps needs an API token. ${SET_KEY}.`, 'auth');
    this.token = token;
    const byLocation = options.latitude !== undefined && options.longitude !== undefined;
    if (!byLocation && !options.zone?.trim()) {
      throw new CarbonSourceError('Electricity Maps needs a zone: set chase.carbon.zone (e.g. "DE"), or chase.carbon.latitude and chase.carbon.longitude.', 'invalid-settings');
    }
    this.zone = byLocation ? `${options.latitude},${options.longitude}` : options.zone!.trim();
    this.http = new HttpClient({ ...deps.http, baseUrl: options.baseUrl || ELECTRICITY_MAPS_BASE_URL, service: SERVICE, secrets: () => this.secretValues(), now: this.now });
  }

  get info(): CarbonSourceInfo {
    return {
      kind: 'electricitymaps',
      label: `Electricity Maps ${this.zone}`,
      zone: this.zone,
      signal: 'average',
      attribution: 'Electricity Maps (electricitymaps.com)',
    };
  }

  private params(): Record<string, string | number | boolean | undefined> {
    const o = this.options;
    const where = o.latitude !== undefined && o.longitude !== undefined ? { lat: o.latitude, lon: o.longitude } : { zone: o.zone?.trim() };
    return { ...where, emissionFactorType: o.emissionFactorType ?? DEFAULT_EMISSION_FACTOR_TYPE, disableEstimations: o.disableEstimations ? true : undefined };
  }

  private async get(path: string): Promise<JsonReader> {
    try {
      return new JsonReader(SERVICE, await this.http.getJson(path, { params: this.params(), headers: { 'auth-token': this.token } }), path);
    } catch (e) {
      throw e instanceof HttpStatusError ? this.describe(e) : e;
    }
  }

  protected override secretValues(): string[] {
    return [this.token];
  }

  /** The API's statuses in words a user can act on. */
  private describe(e: HttpStatusError): CarbonSourceError {
    const why = e.apiMessage ? ` (${e.apiMessage})` : '';
    if (e.status === 401) return new CarbonSourceError(`Electricity Maps rejected the API token (401). ${SET_KEY}.`, 'auth');
    if (/no (recent )?data/i.test(e.apiMessage)) {
      return new CarbonSourceError(`Electricity Maps has no recent data for zone "${this.zone}"${why}. Choose a neighbouring zone in chase.carbon.zone, or set chase.carbon.provider to "replay".`, 'unavailable');
    }
    if (e.status === 403) {
      return new CarbonSourceError(
        `Electricity Maps refused ${e.path} for zone "${this.zone}" (403)${why}. Your plan may not include this zone: check it at https://portal.electricitymaps.com, or set chase.carbon.zone to a zone it includes.`,
        'not-in-plan',
      );
    }
    if (e.status === 404 || (e.status === 400 && /zone|lat|lon/i.test(e.apiMessage))) {
      return new CarbonSourceError(
        `Electricity Maps does not know the zone "${this.zone}"${why}. Set chase.carbon.zone to an Electricity Maps zone id such as "DE" or "US-CAL-CISO", or set chase.carbon.latitude/longitude.`,
        'unknown-zone',
      );
    }
    return new CarbonSourceError(`Electricity Maps answered HTTP ${e.status} for ${e.path}${why}. Check chase.carbon.* settings; Chase keeps the last reading, marked stale.`, 'unavailable');
  }

  /** The zone Electricity Maps resolved (useful with lat/lon). */
  private noteZone(r: JsonReader): void {
    if (r.has('zone')) {
      const z = r.get('zone').string();
      if (z) this.zone = z;
    }
  }

  protected async fetchLatest(): Promise<LatestPoint> {
    const r = await this.get('carbon-intensity/latest');
    this.noteZone(r);
    const value = r.get('carbonIntensity');
    if (value.isNull()) {
      throw new CarbonSourceError(`Electricity Maps has no recent data for zone "${this.zone}". Choose a neighbouring zone in chase.carbon.zone, or set chase.carbon.provider to "replay".`, 'unavailable');
    }
    return { timestampMs: r.get('datetime').time(), intensityGPerKwh: value.intensity() };
  }

  /** `/history` is always the last 24 h, whatever range is asked: one request per period serves all. */
  protected override historyCacheKey(): string {
    return 'h:last-24h';
  }

  protected async fetchHistory(): Promise<IntensityPoint[]> {
    const r = await this.get('carbon-intensity/history');
    this.noteZone(r);
    return readPoints(r.get('history'));
  }

  protected async fetchForecast(): Promise<ForecastPoint[] | undefined> {
    if (this.now() < this.forecastDeniedUntilMs) return undefined;
    try {
      const r = await this.get('carbon-intensity/forecast');
      this.setNotice('forecast', undefined);
      return readPoints(r.get('forecast'));
    } catch (e) {
      if (e instanceof CarbonSourceError && (e.kind === 'auth' || e.kind === 'not-in-plan')) {
        this.forecastDeniedUntilMs = this.now() + 6 * HOUR_MS;
        this.setNotice('forecast', "Electricity Maps' forecast is not in your plan: Chase uses its own forecast.");
        return undefined;
      }
      throw e;
    }
  }
}

/** `[{carbonIntensity, datetime}, …]`; entries whose value is null (not yet known) are skipped. */
function readPoints(list: JsonReader): IntensityPoint[] {
  const out: IntensityPoint[] = [];
  for (const item of list.items()) {
    const v = item.get('carbonIntensity');
    if (v.isNull()) continue;
    out.push({ timestampMs: item.get('datetime').time(), intensityGPerKwh: v.intensity() });
  }
  return out;
}
