/** Forecasters by name, and the helpers around them. */
import { persistence, type Forecaster } from './types';
import { chaseSvr, seasonalNaive } from './baselines';
import { DefaultForecaster } from './default';

export * from './types';
export { chaseSvr, seasonalNaive, CHASE_SVR_PARAMS } from './baselines';
export { DefaultForecaster, type DefaultForecasterOptions } from './default';
export { fitSvr, predictSvr, type SvrModel, type SvrParams } from './svr';
export { ErrorAccumulator, scoreForecast, walkForward, type Score, type WalkForwardOptions, type WalkForwardResult } from './evaluate';

export const forecasterNames = ['persistence', 'seasonal-naive', 'chase-svr', 'default'] as const;
export type ForecasterName = (typeof forecasterNames)[number];

/**
 * A forecaster by name. `default` returns a new instance each call (it caches its fit); the
 * baselines are stateless and shared.
 */
export function createForecaster(name: ForecasterName): Forecaster {
  switch (name) {
    case 'persistence':
      return persistence;
    case 'seasonal-naive':
      return seasonalNaive;
    case 'chase-svr':
      return chaseSvr;
    case 'default':
      return new DefaultForecaster();
    default:
      throw new Error(`unknown forecaster "${String(name)}": expected one of ${forecasterNames.join(', ')}`);
  }
}
