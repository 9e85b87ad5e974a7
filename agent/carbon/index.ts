/** Creates the carbon provider that the settings ask for. The one place that maps settings to a provider. */
import { CARBON_SOURCE_KINDS, type CarbonSecrets, type CarbonSettings } from '../protocol/messages';
import type { ApiProviderDeps } from './apiProvider';
import { replayStartMs } from '../protocol/settings';
import { ElectricityMapsProvider } from './electricityMaps';
import { CarbonSourceError, type CarbonProvider } from './provider';
import { ReplayProvider } from './replay';
import { StaticProvider } from './static';
import { UkNesoProvider } from './ukNeso';
import { WattTimeProvider } from './wattTime';

/**
 * `secrets` are the API credentials (AgentSettings.secrets, or `secretsFromEnv` in the CLI);
 * `deps` lets tests shorten timeouts and fake the clock of the web-API providers.
 */
export function createProvider(settings: CarbonSettings, nowMs = Date.now(), secrets: CarbonSecrets = {}, deps: ApiProviderDeps = {}): CarbonProvider {
  const location = settings.latitude !== undefined && settings.longitude !== undefined ? { latitude: settings.latitude, longitude: settings.longitude } : {};
  switch (settings.provider) {
    case 'replay':
      return ReplayProvider.create({
        zone: settings.zone,
        traceFile: settings.traceFile || undefined,
        speed: settings.replaySpeed,
        originMs: nowMs,
        // a date that does not exist (2023-02-30) is refused by the replay, naming the setting
        ...(settings.replayStart ? { startMs: replayStartMs(settings.replayStart) ?? NaN } : {}),
        timeColumn: settings.traceTimeColumn || undefined,
        valueColumn: settings.traceValueColumn || undefined,
      });
    case 'static':
      return new StaticProvider(settings.staticIntensityGPerKwh ?? NaN, settings.zone);
    case 'electricitymaps':
      return new ElectricityMapsProvider(
        {
          token: secrets.electricityMapsToken,
          zone: settings.zone,
          ...location,
          emissionFactorType: settings.emissionFactorType,
          disableEstimations: settings.disableEstimations,
          baseUrl: settings.baseUrl,
          baseUrlSetBy: settings.baseUrlSetBy,
        },
        deps,
      );
    case 'watttime':
      return new WattTimeProvider({ username: secrets.wattTimeUsername, password: secrets.wattTimePassword, zone: settings.zone, ...location, baseUrl: settings.baseUrl, baseUrlSetBy: settings.baseUrlSetBy }, deps);
    case 'uk-neso':
      return new UkNesoProvider({ zone: settings.zone, regionId: settings.ukRegionId, postcode: settings.ukPostcode, baseUrl: settings.baseUrl }, deps);
    default:
      throw new CarbonSourceError(
        `The carbon provider "${String(settings.provider)}" is not available in this version. Set chase.carbon.provider to ${CARBON_SOURCE_KINDS.slice(0, -1).map((k) => `"${k}"`).join(', ')} or "${CARBON_SOURCE_KINDS[CARBON_SOURCE_KINDS.length - 1]}".`,
        'invalid-settings',
      );
  }
}

export { secretsFromEnv } from './secrets';
