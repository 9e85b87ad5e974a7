/**
 * The policies the simulator compares (`chase-agent simulate`, bench/decide), built for one profile.
 */
import { createForecaster, type Forecaster } from '../forecast/index';
import type { RunPolicyName } from '../protocol/messages';
import { budgetedPolicy, chasePaperPolicy, energyOnlyPolicy, maxPowerPolicy, staticBestPolicy, type Policy } from './policy';
import type { PowerProfile } from '../profile/profile';

export { allocate } from './allocate';
export { planOracle } from './oracle';
export * from './policy';

/** The forecaster the forecasting policies use unless one is injected: a new `default` (it caches its fit). */
export function defaultForecaster(): Forecaster {
  return createForecaster('default');
}

/** η of `chase-paper` when none is given: the paper's balanced setting. */
export const DEFAULT_ETA = 0.5;

export interface PolicyOptions {
  /** Allowed slowdown against the maximum limit, % (every policy but max-power and chase-paper uses it). */
  budgetPct: number;
  /** chase-paper's η (default {@link DEFAULT_ETA}). */
  eta?: number;
  /** Makes the forecaster of a policy that forecasts (default: `defaultForecaster`). */
  forecaster?: () => Forecaster;
}

/**
 * The one place a policy is built by name (runs, the simulator): `name` as the user, a task or
 * `chase/startRun` gives it, for `profile` (in the clock the policy decides in).
 */
export function createPolicy(name: RunPolicyName, profile: PowerProfile, options: PolicyOptions): Policy {
  const forecaster = options.forecaster ?? defaultForecaster;
  switch (name) {
    case 'max-power':
      return maxPowerPolicy(profile);
    case 'static-best':
      return staticBestPolicy(profile, options);
    case 'energy-only':
      return energyOnlyPolicy(profile, options);
    case 'chase-paper':
      return chasePaperPolicy(profile, { eta: options.eta ?? DEFAULT_ETA, forecaster: forecaster() });
    case 'default':
      return budgetedPolicy(profile, { budgetPct: options.budgetPct, forecaster: forecaster() });
  }
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
  const { etas = [0.25, 0.5], ...common } = options;
  return [
    createPolicy('max-power', profile, common),
    createPolicy('static-best', profile, common),
    createPolicy('energy-only', profile, common),
    ...etas.map((eta) => createPolicy('chase-paper', profile, { ...common, eta })),
    createPolicy('default', profile, common),
  ];
}
