/**
 * Checks settings that arrive over the wire. The extension validates too (extension/config.ts), but
 * the agent is also driven by other clients, so it never trusts the shape. Returns the settings or a
 * message naming the bad setting.
 */
import type { AgentSettings, CarbonSourceKind } from '../protocol/messages';

const PROVIDERS: readonly CarbonSourceKind[] = ['replay', 'static', 'electricitymaps', 'watttime', 'uk-neso'];

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
  if (staticIntensityGPerKwh !== undefined && (typeof staticIntensityGPerKwh !== 'number' || staticIntensityGPerKwh < 0)) {
    return `chase.carbon.staticIntensity must be a non-negative number of g/kWh (got ${JSON.stringify(staticIntensityGPerKwh)}).`;
  }
  return {
    carbon: {
      provider: provider as CarbonSourceKind,
      zone: zone.trim(),
      replaySpeed,
      ...(typeof traceFile === 'string' && traceFile !== '' ? { traceFile } : {}),
      ...(typeof staticIntensityGPerKwh === 'number' ? { staticIntensityGPerKwh } : {}),
    },
  };
}
