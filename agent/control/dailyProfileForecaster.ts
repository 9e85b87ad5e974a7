/**
 * A stand-in forecaster for the `default` policy until agent/forecast/index.ts exports
 * `createForecaster('default')`: a daily profile plus a decaying anomaly (seasonal mean + AR(1)).
 *
 * Why not persistence: with a flat forecast every future period looks like the present, so the
 * optimizer has nothing to shift work towards and behaves exactly like energy-only (measured: equal
 * to the last digit on all five grids). What the optimizer needs is the shape of the coming day.
 *
 * Model, all from the history it is given (nothing fitted offline): profile(φ) = mean of the last
 * `days` days' values at time-of-day φ; anomaly d_i = c_i − profile(φ_i); ρ = lag-1 autocorrelation of
 * d over those days (clamped to [0, 0.99]); forecast(t+k) = profile(φ_{t+k}) + ρ^(k+1)·d_{t−1}.
 * With less than one day of history it falls back to persistence.
 */
import { persistence, type Forecaster } from '../forecast/types';

export function dailyProfileForecaster(days = 7): Forecaster {
  return {
    name: `daily-profile-${days}d`,
    forecast(input) {
      const { history, stepMs, horizonSteps } = input;
      const perDay = Math.round(86_400_000 / stepMs);
      const n = history.length;
      if (perDay < 2 || n < perDay + 1) return persistence.forecast(input);
      const d = Math.min(days, Math.floor(n / perDay));
      const start = n - d * perDay; // the window: d whole days ending with the last known period
      const profile = new Float64Array(perDay);
      for (let i = start; i < n; i++) profile[(i - start) % perDay] += history[i] / d;
      let num = 0;
      let den = 0;
      let prev = NaN;
      for (let i = start; i < n; i++) {
        const a = history[i] - profile[(i - start) % perDay];
        den += a * a;
        if (!Number.isNaN(prev)) num += a * prev;
        prev = a;
      }
      const rho = den > 0 ? Math.min(0.99, Math.max(0, num / den)) : 0;
      const lastAnomaly = prev;
      const mean = new Float64Array(horizonSteps);
      let decay = rho;
      for (let k = 0; k < horizonSteps; k++) {
        mean[k] = Math.max(0, profile[(n + k - start) % perDay] + decay * lastAnomaly);
        decay *= rho;
      }
      return { mean };
    },
  };
}
