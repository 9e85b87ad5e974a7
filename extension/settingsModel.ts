/**
 * Settings as data: the keys the extension reads and how raw values become AgentSettings or problems
 * that name the setting and the fix. Pure (no `vscode` import) so it is unit-tested; the only reader
 * of the real configuration is extension/config.ts. test/vscode/suite/settings.test.ts fails when
 * SETTING_KEYS and package.json's contributes.configuration drift apart.
 */
import { CARBON_SOURCE_KINDS, DEFAULT_EMISSION_FACTOR_TYPE, type AgentSettings, type CarbonSourceKind, type EmissionFactorType, type SettingOrigin } from '../agent/protocol/messages';

export const SECTION = 'chase';

/** Every key this class reads (relative to `chase.`), checked against package.json by a test. */
export const SETTING_KEYS = [
  'carbon.provider',
  'carbon.zone',
  'carbon.traceFile',
  'carbon.replaySpeed',
  'carbon.staticIntensity',
  'carbon.latitude',
  'carbon.longitude',
  'carbon.emissionFactorType',
  'carbon.disableEstimations',
  'carbon.apiBaseUrl',
  'carbon.ukRegionId',
  'carbon.ukPostcode',
  'agent.socket',
  'statusBar.lowBelow',
  'statusBar.highAbove',
  'metrics.enabled',
  'metrics.host',
  'metrics.port',
] as const;

/** The privileged limits service's socket the agent delegates power limits to, or undefined (the agent sets them itself, or advises). */
export function agentSocket(get: (key: (typeof SETTING_KEYS)[number]) => unknown): string | undefined {
  const v = get('agent.socket');
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

const PROVIDERS: readonly CarbonSourceKind[] = CARBON_SOURCE_KINDS;

const isBlank = (v: unknown) => v === undefined || v === null || v === '';

export type ConfigResult = { ok: true; settings: AgentSettings } | { ok: false; problems: string[] };

/** The part of `WorkspaceConfiguration.inspect()` that says where a value comes from. */
export interface InspectedSetting {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * Who set the value in effect: a workspace or folder value wins over the user's, so any workspace-level
 * value makes it "workspace"; undefined when only the default applies. (In Restricted Mode VS Code
 * drops a workspace's values of the settings in package.json's `restrictedConfigurations` before they
 * reach get() or inspect(); in a trusted workspace they arrive, and this tells them apart.)
 */
export function settingOrigin(i: InspectedSetting | undefined): SettingOrigin | undefined {
  if (i?.workspaceFolderValue !== undefined || i?.workspaceValue !== undefined) return 'workspace';
  return i?.globalValue !== undefined ? 'user' : undefined;
}

/**
 * Pure: raw values in, settings or problems out (unit-testable without VS Code). `origin` says who set
 * a key (only chase.carbon.apiBaseUrl needs it: the agent sends an API key to a user-set host only).
 */
export function parseSettings(get: (key: (typeof SETTING_KEYS)[number]) => unknown, origin: (key: (typeof SETTING_KEYS)[number]) => SettingOrigin | undefined = () => undefined): ConfigResult {
  const problems: string[] = [];
  const provider = get('carbon.provider') ?? 'replay';
  const zone = get('carbon.zone') ?? 'GB';
  const traceFile = get('carbon.traceFile') ?? '';
  const replaySpeed = get('carbon.replaySpeed') ?? 1;
  const staticIntensity = get('carbon.staticIntensity') ?? 300;

  if (typeof provider !== 'string' || !PROVIDERS.includes(provider as CarbonSourceKind)) {
    problems.push(`chase.carbon.provider: "${String(provider)}" is not a provider; use one of ${PROVIDERS.join(', ')}.`);
  }
  if (typeof zone !== 'string' || zone.trim() === '') problems.push('chase.carbon.zone: set a grid zone such as "GB".');
  if (typeof traceFile !== 'string') problems.push('chase.carbon.traceFile: must be a file path (text).');
  if (typeof replaySpeed !== 'number' || !Number.isFinite(replaySpeed) || replaySpeed <= 0) {
    problems.push(`chase.carbon.replaySpeed: ${JSON.stringify(replaySpeed)} is not a positive number; use 1 for real time.`);
  }
  if (typeof staticIntensity !== 'number' || !Number.isFinite(staticIntensity) || staticIntensity < 0) {
    problems.push(`chase.carbon.staticIntensity: ${JSON.stringify(staticIntensity)} is not a non-negative number of gCO₂/kWh.`);
  }
  const latitude = get('carbon.latitude');
  const longitude = get('carbon.longitude');
  if (!isBlank(latitude) && (typeof latitude !== 'number' || Math.abs(latitude) > 90)) problems.push(`chase.carbon.latitude: ${JSON.stringify(latitude)} is not a latitude in degrees (−90…90).`);
  if (!isBlank(longitude) && (typeof longitude !== 'number' || Math.abs(longitude) > 180)) problems.push(`chase.carbon.longitude: ${JSON.stringify(longitude)} is not a longitude in degrees (−180…180).`);
  if (isBlank(latitude) !== isBlank(longitude)) problems.push('chase.carbon.latitude and chase.carbon.longitude go together: set both or neither.');
  const emission = get('carbon.emissionFactorType') ?? DEFAULT_EMISSION_FACTOR_TYPE;
  if (emission !== 'direct' && emission !== 'lifecycle') problems.push(`chase.carbon.emissionFactorType: use "direct" or "lifecycle" (got ${JSON.stringify(emission)}).`);
  const baseUrl = get('carbon.apiBaseUrl') ?? '';
  if (typeof baseUrl !== 'string' || (baseUrl !== '' && !/^https?:\/\//.test(baseUrl))) problems.push(`chase.carbon.apiBaseUrl: ${JSON.stringify(baseUrl)} is not an http(s) URL.`);
  const region = get('carbon.ukRegionId');
  if (!isBlank(region) && (typeof region !== 'number' || !Number.isInteger(region) || region < 1 || region > 17)) problems.push(`chase.carbon.ukRegionId: ${JSON.stringify(region)} is not a region id from 1 to 17.`);
  const postcode = get('carbon.ukPostcode') ?? '';
  if (typeof postcode !== 'string') problems.push('chase.carbon.ukPostcode: must be text such as "RG10".');
  const metricsEnabled = get('metrics.enabled') ?? false;
  const metricsHost = get('metrics.host') ?? '127.0.0.1';
  const metricsPort = get('metrics.port') ?? 9477;
  if (typeof metricsEnabled !== 'boolean') problems.push(`chase.metrics.enabled: use true or false (got ${JSON.stringify(metricsEnabled)}).`);
  if (typeof metricsHost !== 'string' || metricsHost.trim() === '' || /[\s/]/.test(metricsHost.trim())) problems.push(`chase.metrics.host: ${JSON.stringify(metricsHost)} is not an interface address; use "127.0.0.1" (this machine only) or "0.0.0.0" (all interfaces).`);
  if (typeof metricsPort !== 'number' || !Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535) problems.push(`chase.metrics.port: ${JSON.stringify(metricsPort)} is not a TCP port from 1 to 65535.`);
  if (problems.length > 0) return { ok: false, problems };
  const baseUrlSetBy = origin('carbon.apiBaseUrl');
  return {
    ok: true,
    settings: {
      carbon: {
        provider: provider as CarbonSourceKind,
        zone: (zone as string).trim(),
        replaySpeed: replaySpeed as number,
        staticIntensityGPerKwh: staticIntensity as number,
        ...((traceFile as string).trim() !== '' ? { traceFile: (traceFile as string).trim() } : {}),
        ...(!isBlank(latitude) && !isBlank(longitude) ? { latitude: latitude as number, longitude: longitude as number } : {}),
        emissionFactorType: emission as EmissionFactorType,
        ...(get('carbon.disableEstimations') === true ? { disableEstimations: true } : {}),
        ...(baseUrl !== '' ? { baseUrl: baseUrl as string, ...(baseUrlSetBy ? { baseUrlSetBy } : {}) } : {}),
        ...(!isBlank(region) ? { ukRegionId: region as number } : {}),
        ...((postcode as string).trim() !== '' ? { ukPostcode: (postcode as string).trim() } : {}),
      },
      metrics: { enabled: metricsEnabled as boolean, host: (metricsHost as string).trim(), port: metricsPort as number },
    },
  };
}


/** Level thresholds the user set (g/kWh); each falls back to the grid's own percentiles when unset. */
export interface LevelOverrides {
  lowBelowGPerKwh?: number;
  highAboveGPerKwh?: number;
}

export function levelOverrides(get: (key: (typeof SETTING_KEYS)[number]) => unknown): LevelOverrides {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const low = num(get('statusBar.lowBelow'));
  const high = num(get('statusBar.highAbove'));
  return { ...(low !== undefined ? { lowBelowGPerKwh: low } : {}), ...(high !== undefined ? { highAboveGPerKwh: high } : {}) };
}
