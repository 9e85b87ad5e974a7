/**
 * The policies the simulator compares (`chase-agent simulate`, bench/decide), built for one profile.
 */
import { createForecaster, type Forecaster } from '../forecast/index';
import { budgetedPolicy, chasePaperPolicy, energyOnlyPolicy, maxPowerPolicy, staticBestPolicy, type Policy } from './policy';
import type { PowerProfile } from '../profile/profile';

export { allocate } from './allocate';
export { planOracle } from './oracle';
export * from './policy';

/** The forecaster the forecasting policies use unless one is injected: a new `default` (it caches its fit). */
export function defaultForecaster(): Forecaster {
  return createForecaster('default');
}

export interface PolicySetOptions {
  budgetPct: number;
  /** chase-paper variants, one per η (default 0.25 and 0.5). */
  etas?: number[];
  /** Makes the forecaster for each policy that forecasts (default: `defaultForecaster`). */
  forecaster?: () => Forecaster;
}

/** max-power, static-best, energy-only, chase-paper-eta…, default — in that order (the oracle is the simulator's). */
export function standardPolicies(profile: PowerProfile, options: PolicySetOptions): Policy[] {
  const forecaster = options.forecaster ?? defaultForecaster;
  const etas = options.etas ?? [0.25, 0.5];
  return [
    maxPowerPolicy(profile),
    staticBestPolicy(profile, options),
    energyOnlyPolicy(profile, options),
    ...etas.map((eta) => chasePaperPolicy(profile, { eta, forecaster: forecaster() })),
    budgetedPolicy(profile, { budgetPct: options.budgetPct, forecaster: forecaster() }),
  ];
}
