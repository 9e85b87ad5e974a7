/**
 * The policy set by name, as the simulator and (later) the live agent build it.
 */
import type { Forecaster } from '../forecast/types';
import { dailyProfileForecaster } from './dailyProfileForecaster';
import { budgetedPolicy, chasePaperPolicy, energyOnlyPolicy, maxPowerPolicy, staticBestPolicy, type Policy } from './policy';
import type { PowerProfile } from './profile';

export { allocate } from './allocate';
export { planOracle } from './oracle';
export * from './policy';
export * from './profile';

/** The forecaster the `default` policy uses unless one is injected. */
export function defaultForecaster(): Forecaster {
  return dailyProfileForecaster();
}

export interface PolicySetOptions {
  budgetPct: number;
  /** chase-paper variants, one per η (default 0.25 and 0.5). */
  etas?: number[];
  forecaster?: Forecaster;
}

/** max-power, static-best, energy-only, chase-paper-eta…, default — in that order (the oracle is the simulator's). */
export function standardPolicies(profile: PowerProfile, options: PolicySetOptions): Policy[] {
  const forecaster = options.forecaster ?? defaultForecaster();
  const etas = options.etas ?? [0.25, 0.5];
  return [
    maxPowerPolicy(profile),
    staticBestPolicy(profile, options),
    energyOnlyPolicy(profile, options),
    ...etas.map((eta) => chasePaperPolicy(profile, { eta, forecaster })),
    budgetedPolicy(profile, { budgetPct: options.budgetPct, forecaster }),
  ];
}
