/**
 * Checks settings that arrive over the wire (`initialize`, `chase/configure`: the latter's schema in
 * messages.ts is this check). The extension validates too (extension/config.ts), but the agent is
 * also driven by other clients, so it never trusts the shape. Returns the settings or a message
 * naming the bad setting.
 *
 * The carbon-source kinds live here, not in messages.ts, so that this file imports only types from
 * there (messages.ts imports this one: no import loop at run time).
 */
import type { AgentSettings, CarbonSecrets, CarbonSettings, MetricsSettings } from './messages';
import { MAX_INTENSITY_G_PER_KWH } from './units';

/** Every carbon source, for settings validation and help texts on both sides. */
export const CARBON_SOURCE_KINDS = ['replay', 'static', 'electricitymaps', 'watttime', 'uk-neso'] as const;
export type CarbonSourceKind = (typeof CARBON_SOURCE_KINDS)[number];

/** Where a setting's value came from: the user's own settings (or command line), or a workspace's settings file. */
export const SETTING_ORIGINS = ['user', 'workspace'] as const;
export type SettingOrigin = (typeof SETTING_ORIGINS)[number];

const PROVIDERS: readonly CarbonSourceKind[] = CARBON_SOURCE_KINDS;

export function validateSettings(raw: unknown): AgentSettings | string {
  const carbon = (raw as { carbon?: unknown } | undefined)?.carbon as Record<string, unknown> | undefined;
  if (!carbon || typeof carbon !== 'object') return 'Settings are missing the "carbon" section.';
  const { provider, zone, traceFile, replaySpeed, staticIntensityGPerKwh } = carbon;
  if (typeof provider !== 'string' || !PROVIDERS.includes(provider as CarbonSourceKind)) {
    return `chase.carbon.provider must be one of ${PROVIDERS.join(', ')} (got ${JSON.stringify(provider)}).`;
  }
  if (typeof zone !== 'string' || zone.trim() === '') return `chase.carbon.zone must be a grid zone such as "GB" (got ${JSON.stringify(zone)}).`;
  if (typeof replaySpeed !== 'number' || !Number.isFinite(replaySpeed) || replaySpeed <= 0) {
    return `chase.carbon.replaySpeed must be a positive number (got ${JSON.stringify(replaySpeed)}).`;
  }
  if (traceFile !== undefined && traceFile !== null && typeof traceFile !== 'string') return 'chase.carbon.traceFile must be a file path.';
  if (staticIntensityGPerKwh !== undefined && (typeof staticIntensityGPerKwh !== 'number' || !(staticIntensityGPerKwh >= 0 && staticIntensityGPerKwh <= MAX_INTENSITY_G_PER_KWH))) {
    return `chase.carbon.staticIntensity must be a number of g/kWh from 0 to ${MAX_INTENSITY_G_PER_KWH} (got ${JSON.stringify(staticIntensityGPerKwh)}).`;
  }
  const extra = validateApiSettings(carbon);
  if (typeof extra === 'string') return extra;
  const secrets = validateSecrets((raw as { secrets?: unknown }).secrets);
  if (typeof secrets === 'string') return secrets;
  const metrics = validateMetrics((raw as { metrics?: unknown }).metrics);
  if (typeof metrics === 'string') return metrics;
  return {
    carbon: {
      provider: provider as CarbonSourceKind,
      zone: zone.trim(),
      replaySpeed,
      ...(typeof traceFile === 'string' && traceFile !== '' ? { traceFile } : {}),
      ...(typeof staticIntensityGPerKwh === 'number' ? { staticIntensityGPerKwh } : {}),
      ...extra,
    },
    ...(secrets ? { secrets } : {}),
    ...(metrics ? { metrics } : {}),
  };
}

/** `chase.metrics.*`: absent means off. Host defaults to loopback. */
function validateMetrics(raw: unknown): MetricsSettings | undefined | string {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object') return 'Settings "metrics" must be an object.';
  const { enabled, host, port } = raw as Record<string, unknown>;
  if (typeof enabled !== 'boolean') return `chase.metrics.enabled must be true or false (got ${JSON.stringify(enabled)}).`;
  const h = absent(host) ? '127.0.0.1' : host;
  if (typeof h !== 'string' || h.trim() === '' || /[\s/]/.test(h.trim())) return `chase.metrics.host must be an interface address such as "127.0.0.1" (got ${JSON.stringify(host)}).`;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return `chase.metrics.port must be a TCP port from 1 to 65535 (got ${JSON.stringify(port)}).`;
  return { enabled, host: h.trim(), port };
}

const absent = (v: unknown) => v === undefined || v === null || v === '';

/** The optional web-API fields of CarbonSettings; absent ones are left out. */
function validateApiSettings(c: Record<string, unknown>): Partial<CarbonSettings> | string {
  const out: Partial<CarbonSettings> = {};
  for (const key of ['traceTimeColumn', 'traceValueColumn'] as const) {
    if (absent(c[key])) continue;
    if (typeof c[key] !== 'string') return `chase.carbon.${key} must be a column name (got ${JSON.stringify(c[key])}).`;
    out[key] = c[key];
  }
  for (const [key, limit] of [['latitude', 90], ['longitude', 180]] as const) {
    const v = c[key];
    if (absent(v)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > limit) return `chase.carbon.${key} must be a number of degrees between -${limit} and ${limit} (got ${JSON.stringify(v)}).`;
    out[key] = v;
  }
  if ((out.latitude === undefined) !== (out.longitude === undefined)) return 'chase.carbon.latitude and chase.carbon.longitude must be set together.';
  if (!absent(c.emissionFactorType)) {
    if (c.emissionFactorType !== 'direct' && c.emissionFactorType !== 'lifecycle') return `chase.carbon.emissionFactorType must be "direct" or "lifecycle" (got ${JSON.stringify(c.emissionFactorType)}).`;
    out.emissionFactorType = c.emissionFactorType;
  }
  if (!absent(c.disableEstimations)) {
    if (typeof c.disableEstimations !== 'boolean') return `chase.carbon.disableEstimations must be true or false (got ${JSON.stringify(c.disableEstimations)}).`;
    out.disableEstimations = c.disableEstimations;
  }
  if (!absent(c.baseUrl)) {
    if (typeof c.baseUrl !== 'string' || !/^https?:\/\/[^\s/]+/i.test(c.baseUrl)) return `chase.carbon.apiBaseUrl must be an http(s) URL (got ${JSON.stringify(c.baseUrl)}).`;
    out.baseUrl = c.baseUrl;
  }
  if (!absent(c.baseUrlSetBy)) {
    if (!SETTING_ORIGINS.includes(c.baseUrlSetBy as SettingOrigin)) return `baseUrlSetBy must be one of ${SETTING_ORIGINS.join(', ')} (got ${JSON.stringify(c.baseUrlSetBy)}).`;
    out.baseUrlSetBy = c.baseUrlSetBy as SettingOrigin;
  }
  if (!absent(c.ukRegionId)) {
    const v = c.ukRegionId;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 17) return `chase.carbon.ukRegionId must be a UK NESO region id from 1 to 17 (got ${JSON.stringify(v)}).`;
    out.ukRegionId = v;
  }
  if (!absent(c.ukPostcode)) {
    const v = c.ukPostcode;
    if (typeof v !== 'string' || !/^[A-Z]{1,2}[0-9][A-Z0-9]?$/i.test(v.trim())) return `chase.carbon.ukPostcode must be the outward part of a UK postcode, e.g. "RG10" (got ${JSON.stringify(v)}).`;
    out.ukPostcode = v.trim().toUpperCase();
  }
  return out;
}

/** Secrets: optional strings. Messages never echo a value. */
function validateSecrets(raw: unknown): CarbonSecrets | undefined | string {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object') return 'Settings "secrets" must be an object.';
  const out: CarbonSecrets = {};
  for (const key of ['electricityMapsToken', 'wattTimeUsername', 'wattTimePassword'] as const) {
    const v = (raw as Record<string, unknown>)[key];
    if (absent(v)) continue;
    if (typeof v !== 'string') return `The secret ${key} must be a string.`;
    out[key] = v;
  }
  return out;
}
