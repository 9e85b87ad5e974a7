/**
 * WattTime API v3 (https://api.watttime.org): the *marginal* operating emissions rate (MOER,
 * `signal_type=co2_moer`) at 5-minute points, in lbs CO2/MWh, converted here to g/kWh.
 *
 * Auth: GET /login with HTTP Basic → `{"token"}` (valid ~30 min), sent as a bearer token. The token
 * is renewed before it expires and once on a 401.
 * Region: `zone` is a WattTime region (e.g. CAISO_NORTH), or found from latitude/longitude with
 * /v3/region-from-loc.
 * Values: /v3/historical (the last minutes give the current MOER) and /v3/forecast. Both are for
 * subscribers; every account may use region CAISO_NORTH. /v3/signal-index (all accounts) gives only
 * a 0–100 percentile, not g/kWh, so it is offered separately ({@link WattTimeProvider.signalIndex})
 * and used for the message when the plan has no MOER values.
 */
import type { CarbonSourceInfo, ForecastPoint, IntensityPoint, SettingOrigin } from '../protocol/messages';
import { ApiProvider, HOUR_MS, MINUTE_MS, type ApiProviderDeps, type LatestPoint } from './apiProvider';
import { credentialedBaseUrl } from './endpoint';
import { HttpClient, HttpStatusError, JsonReader } from './http';
import { CarbonSourceError } from './provider';

export const WATTTIME_BASE_URL = 'https://api.watttime.org';
const SERVICE = 'WattTime';
const SIGNAL = 'co2_moer';
const SET_KEY = "Set them with the command 'Chase: Set API Key' (for the CLI: CHASE_WATTTIME_USERNAME and CHASE_WATTTIME_PASSWORD)";

/** grams per pound (exact, by definition of the avoirdupois pound). */
export const GRAMS_PER_POUND = 453.59237;

/**
 * lbs CO2 per MWh → g CO2 per kWh. 1 lb/MWh = 453.59237 g / 1000 kWh = 0.45359237 g/kWh.
 * The one place this conversion is done.
 */
export function lbsPerMwhToGPerKwh(lbsPerMwh: number): number {
  return (lbsPerMwh * GRAMS_PER_POUND) / 1000;
}

/** Units WattTime may report and how to get g/kWh from them. */
function toGPerKwh(value: number, units: string | undefined): number {
  switch ((units ?? 'lbs_co2_per_mwh').toLowerCase()) {
    case 'lbs_co2_per_mwh':
    case 'lbs/mwh':
      return lbsPerMwhToGPerKwh(value);
    case 'g_co2_per_kwh':
    case 'kg_co2_per_mwh':
      return value;
    default:
      throw new CarbonSourceError(`WattTime reported values in "${units}", which Chase cannot convert to g/kWh. Please report this.`, 'malformed');
  }
}

export interface WattTimeOptions {
  username: string | undefined;
  password: string | undefined;
  /** A WattTime region, e.g. CAISO_NORTH (ignored when latitude/longitude are set). */
  zone?: string;
  latitude?: number;
  longitude?: number;
  baseUrl?: string;
  /** Who set `baseUrl` (see endpoint.ts: only the user may send the credentials to another host). */
  baseUrlSetBy?: SettingOrigin;
}

export interface WattTimeDeps extends ApiProviderDeps {
  /** How long a login token is used (WattTime: 30 min; renewed 5 min early by default). */
  tokenLifetimeMs?: number;
}

export class WattTimeProvider extends ApiProvider {
  readonly periodMs = 5 * MINUTE_MS;
  protected readonly freshForMs = 15 * MINUTE_MS;
  readonly http: HttpClient;
  /** Number of /login calls (diagnostics and tests). */
  loginCount = 0;
  private token: { value: string; expiresAtMs: number } | undefined;
  private region: string | undefined;
  private readonly tokenLifetimeMs: number;
  private readonly username: string;
  private readonly password: string;

  constructor(
    private readonly options: WattTimeOptions,
    deps: WattTimeDeps = {},
  ) {
    super(deps);
    const username = options.username?.trim();
    const password = options.password;
    if (!username || !password) throw new CarbonSourceError(`WattTime needs a username and password. ${SET_KEY}.`, 'auth');
    this.username = username;
    this.password = password;
    const byLocation = options.latitude !== undefined && options.longitude !== undefined;
    if (!byLocation) {
      if (!options.zone?.trim()) throw new CarbonSourceError('WattTime needs a region: set chase.carbon.zone (e.g. "CAISO_NORTH"), or chase.carbon.latitude and chase.carbon.longitude.', 'invalid-settings');
      this.region = options.zone.trim();
    }
    this.tokenLifetimeMs = deps.tokenLifetimeMs ?? 25 * MINUTE_MS;
    this.http = new HttpClient({
      ...deps.http,
      baseUrl: credentialedBaseUrl({ service: SERVICE, credential: 'username and password', officialUrl: WATTTIME_BASE_URL, baseUrl: options.baseUrl, setBy: options.baseUrlSetBy }),
      service: SERVICE,
      secrets: () => this.secretValues(),
      now: this.now,
    });
  }

  get info(): CarbonSourceInfo {
    const zone = this.region ?? `${this.options.latitude},${this.options.longitude}`;
    return { kind: 'watttime', label: `WattTime ${zone}`, zone, signal: 'marginal', attribution: 'WattTime (watttime.org), marginal emissions (MOER)' };
  }

  private async login(): Promise<string> {
    this.loginCount++;
    let body: unknown;
    try {
      body = await this.http.getJson('login', { auth: { username: this.username, password: this.password } });
    } catch (e) {
      if (e instanceof HttpStatusError && (e.status === 401 || e.status === 403)) {
        throw new CarbonSourceError(`WattTime rejected the username or password (${e.status}). ${SET_KEY}.`, 'auth');
      }
      throw e;
    }
    const value = new JsonReader(SERVICE, body, 'login').get('token').string();
    this.token = { value, expiresAtMs: this.now() + this.tokenLifetimeMs };
    return value;
  }

  private async bearer(): Promise<string> {
    if (this.token && this.now() < this.token.expiresAtMs) return this.token.value;
    return this.login();
  }

  /** An authenticated GET; on a 401 the token is renewed once and the request repeated. */
  private async get(path: string, params: Record<string, string | number | undefined>): Promise<JsonReader> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.bearer();
      try {
        return new JsonReader(SERVICE, await this.http.getJson(path, { params, headers: { Authorization: `Bearer ${token}` } }), path);
      } catch (e) {
        if (e instanceof HttpStatusError && e.status === 401 && attempt === 0) {
          this.token = undefined;
          continue;
        }
        throw e instanceof HttpStatusError ? this.describe(e) : e;
      }
    }
  }

  protected override secretValues(): Array<string | undefined> {
    return [this.password, this.token?.value];
  }

  private describe(e: HttpStatusError): CarbonSourceError {
    const why = e.apiMessage ? ` (${e.apiMessage})` : '';
    const region = this.region ?? 'your location';
    if (e.status === 401) return new CarbonSourceError(`WattTime rejected the login token twice (401)${why}. ${SET_KEY}.`, 'auth');
    if (e.status === 403) {
      return new CarbonSourceError(
        `Your WattTime plan does not include ${e.path.replace(/^v3\//, '')} data for region ${region} (403)${why}. Every account may use region CAISO_NORTH: set chase.carbon.zone to it to try, subscribe, or choose another provider.`,
        'not-in-plan',
      );
    }
    if (e.status === 400 || e.status === 404) {
      return new CarbonSourceError(
        `WattTime does not know the region "${region}"${why}. Set chase.carbon.zone to a WattTime region such as CAISO_NORTH, or set chase.carbon.latitude/longitude.`,
        'unknown-zone',
      );
    }
    return new CarbonSourceError(`WattTime answered HTTP ${e.status} for ${e.path}${why}. Chase keeps the last reading, marked stale.`, 'unavailable');
  }

  /** The WattTime region, resolved from latitude/longitude once. */
  async resolveRegion(): Promise<string> {
    if (this.region) return this.region;
    const { latitude, longitude } = this.options;
    let r: JsonReader;
    try {
      r = await this.get('v3/region-from-loc', { latitude, longitude, signal_type: SIGNAL });
    } catch (e) {
      if (e instanceof CarbonSourceError && e.kind === 'unknown-zone') {
        throw new CarbonSourceError(`WattTime has no grid region for latitude ${latitude}, longitude ${longitude}. Check chase.carbon.latitude/longitude, or set chase.carbon.zone to a WattTime region.`, 'unknown-zone');
      }
      throw e;
    }
    this.region = r.get('region').string();
    return this.region;
  }

  private async series(path: string, params: Record<string, string | number | undefined>): Promise<IntensityPoint[]> {
    const region = await this.resolveRegion();
    const r = await this.get(path, { region, signal_type: SIGNAL, ...params });
    const meta = r.has('meta') ? r.get('meta') : undefined;
    const units = meta?.has('units') ? meta.get('units').string() : undefined;
    return r
      .get('data')
      .items()
      .map((p) => ({ timestampMs: p.get('point_time').time(), intensityGPerKwh: toGPerKwh(p.get('value').intensity(), units) }));
  }

  protected async fetchLatest(nowMs: number): Promise<LatestPoint> {
    let points: IntensityPoint[];
    let fromForecast = false;
    try {
      points = await this.series('v3/historical', { start: iso(nowMs - 20 * MINUTE_MS), end: iso(nowMs) });
    } catch (e) {
      if (!(e instanceof CarbonSourceError && e.kind === 'not-in-plan')) throw e;
      // Some plans have the forecast but not history: its first point is the current MOER.
      points = await this.series('v3/forecast', { horizon_hours: 1 });
      fromForecast = true;
    }
    const current = points.filter((p) => p.timestampMs <= nowMs).sort((a, b) => b.timestampMs - a.timestampMs)[0] ?? (fromForecast ? points[0] : undefined);
    if (!current) {
      throw new CarbonSourceError(`WattTime has no recent MOER for region ${this.region ?? '?'} (empty answer). Chase tries again next period; if it persists, choose another region or provider.`, 'unavailable');
    }
    return { ...current, ...(fromForecast ? { forecastValue: true } : {}) };
  }

  protected async fetchHistory(fromMs: number, toMs: number): Promise<IntensityPoint[]> {
    const endMs = Math.min(toMs, this.now());
    if (fromMs >= endMs) return [];
    return this.series('v3/historical', { start: iso(fromMs), end: iso(endMs) });
  }

  protected async fetchForecast(fromMs: number, hours: number): Promise<ForecastPoint[] | undefined> {
    const horizon = Math.max(1, Math.min(72, Math.ceil((fromMs + hours * HOUR_MS - this.now()) / HOUR_MS)));
    try {
      return await this.series('v3/forecast', { horizon_hours: horizon });
    } catch (e) {
      if (e instanceof CarbonSourceError && e.kind === 'not-in-plan') {
        this.setNotice('forecast', "WattTime's forecast is not in your plan: Chase uses its own forecast.");
        return undefined;
      }
      throw e;
    }
  }

  /** /v3/signal-index: where the current MOER sits among the next day's, 0 (cleanest) – 100. Any account. */
  async signalIndex(): Promise<{ percent: number; timestampMs: number }> {
    const region = await this.resolveRegion();
    const r = await this.get('v3/signal-index', { region, signal_type: SIGNAL });
    const p = r.get('data').items()[0];
    if (!p) throw new CarbonSourceError('WattTime sent an empty signal index. Chase tries again next period.', 'unavailable');
    return { percent: p.get('value').number(), timestampMs: p.get('point_time').time() };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
