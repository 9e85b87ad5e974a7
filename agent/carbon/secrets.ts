/**
 * API credentials for the carbon providers. The extension passes them in `AgentSettings.secrets`
 * (from VS Code's SecretStorage); the CLI reads them from the environment. They are kept in memory
 * only, never logged (the HTTP layer redacts them from every message) and never written to disk.
 */
import type { CarbonSecrets } from '../protocol/messages';

export const SECRET_ENV_VARS = {
  electricityMapsToken: 'CHASE_ELECTRICITYMAPS_TOKEN',
  wattTimeUsername: 'CHASE_WATTTIME_USERNAME',
  wattTimePassword: 'CHASE_WATTTIME_PASSWORD',
} as const satisfies Record<keyof CarbonSecrets, string>;

/** The secrets set (non-empty) in `env`, e.g. `secretsFromEnv(process.env)`. */
export function secretsFromEnv(env: Record<string, string | undefined>): CarbonSecrets {
  const out: CarbonSecrets = {};
  for (const [key, name] of Object.entries(SECRET_ENV_VARS) as Array<[keyof CarbonSecrets, string]>) {
    const v = env[name]?.trim();
    if (v) out[key] = v;
  }
  return out;
}
