/**
 * Baseline forecasters the project's default model is measured against (persistence lives in
 * types.ts): same-time-yesterday, and the Chase paper's support-vector regression.
 */
import type { ForecastInput, ForecastOutput, Forecaster } from './types';
import { fitSvr, predictSvr } from './svr';
import { DAY_MS, HOUR_MS } from '../protocol/units';

export { DAY_MS, HOUR_MS };

/** Periods per day for a step, or 0 when the step does not fit a day at least twice. */
export function stepsPerDay(stepMs: number): number {
  if (!(stepMs > 0)) return 0;
  const p = Math.round(DAY_MS / stepMs);
  return p >= 2 ? p : 0;
}

/** Hour of day (UTC, fractional) of an epoch-ms time. */
export function hourOfDayUtc(timestampMs: number): number {
  const ms = ((timestampMs % DAY_MS) + DAY_MS) % DAY_MS;
  return ms / HOUR_MS;
}

/**
 * Same time yesterday: the value one day before each target; for targets more than a day ahead,
 * the same time of day on the last day known. Falls back to persistence while the history is
 * shorter than that (or when the step is a day or longer).
 */
export const seasonalNaive: Forecaster = {
  name: 'seasonal-naive',
  forecast({ history, stepMs, horizonSteps }: ForecastInput): ForecastOutput {
    const n = history.length;
    const mean = new Float64Array(horizonSteps);
    const last = n > 0 ? history[n - 1] : NaN;
    const p = stepsPerDay(stepMs);
    for (let h = 1; h <= horizonSteps; h++) {
      // target index n − 1 + h, minus whole days until it is known
      const idx = p > 0 ? n - 1 + h - p * Math.ceil(h / p) : -1;
      mean[h - 1] = idx >= 0 ? history[idx] : last;
    }
    return { mean };
  },
};

/** Hyper-parameters of the Chase paper's forecaster (epsilon is ours: the paper does not give it). */
export const CHASE_SVR_PARAMS = { c: 100, gamma: 1e-4, epsilon: 0.1 } as const;

/**
 * The Chase paper's forecaster: RBF epsilon-SVR (C = 100, γ = 1e-4) on the features
 * [sin(2π·hour/24), cos(2π·hour/24), previous value], fitted on the preceding 24 h, predicting one
 * step ahead and rolled forward on its own predictions for longer horizons. Features are used raw, as
 * in the paper, so with γ = 1e-4 the kernel is driven almost entirely by the previous value (in
 * g/kWh); the time-of-day terms move the kernel by at most 4·10⁻⁴.
 *
 * Hour of day is UTC (the paper's trace was local time; only the phase differs). Refits on every
 * call: 24 samples take well under a millisecond.
 */
export const chaseSvr: Forecaster = {
  name: 'chase-svr',
  forecast({ history, stepMs, nextTimestampMs, horizonSteps }: ForecastInput): ForecastOutput {
    const n = history.length;
    const mean = new Float64Array(horizonSteps);
    const samples = Math.round(DAY_MS / stepMs);
    if (!(samples >= 3) || n < samples + 1) return { mean: mean.fill(n > 0 ? history[n - 1] : NaN) };
    const x = new Float64Array(samples * 3);
    const y = new Float64Array(samples);
    for (let k = 0; k < samples; k++) {
      const idx = n - samples + k; // target index in history
      const angle = (2 * Math.PI * hourOfDayUtc(nextTimestampMs - (n - idx) * stepMs)) / 24;
      x[k * 3] = Math.sin(angle);
      x[k * 3 + 1] = Math.cos(angle);
      x[k * 3 + 2] = history[idx - 1];
      y[k] = history[idx];
    }
    const model = fitSvr(x, y, samples, 3, CHASE_SVR_PARAMS);
    const z = new Float64Array(3);
    let prev = history[n - 1];
    for (let h = 0; h < horizonSteps; h++) {
      const angle = (2 * Math.PI * hourOfDayUtc(nextTimestampMs + h * stepMs)) / 24;
      z[0] = Math.sin(angle);
      z[1] = Math.cos(angle);
      z[2] = prev;
      prev = predictSvr(model, z);
      mean[h] = prev;
    }
    return { mean };
  },
};
