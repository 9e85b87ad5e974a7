/** Creates the carbon provider that the settings ask for. The one place that maps settings to a provider. */
import type { CarbonSettings } from '../protocol/messages';
import { CarbonSourceError, type CarbonProvider } from './provider';
import { ReplayProvider } from './replay';
import { StaticProvider } from './static';

export function createProvider(settings: CarbonSettings, nowMs = Date.now()): CarbonProvider {
  switch (settings.provider) {
    case 'replay':
      return ReplayProvider.create({ zone: settings.zone, traceFile: settings.traceFile || undefined, speed: settings.replaySpeed, originMs: nowMs });
    case 'static':
      return new StaticProvider(settings.staticIntensityGPerKwh ?? NaN, settings.zone);
    default:
      throw new CarbonSourceError(
        `The carbon provider "${String(settings.provider)}" is not available in this version. Set chase.carbon.provider to "replay" or "static".`,
        'invalid-settings',
      );
  }
}
