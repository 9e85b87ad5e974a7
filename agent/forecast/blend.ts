/**
 * Using a provider's own forecast (e.g. Electricity Maps') when one is available.
 */
import type { ForecastOutput } from './types';

export interface BlendWeights {
  /** Weight of the provider's value at the first step, 0…1 (default 0.5). */
  providerWeight?: number;
  /**
   * Weight of the provider's value at the last step of the model's forecast; the weight moves
   * linearly from `providerWeight` to this across the horizon (default: same as `providerWeight`).
   */
  providerWeightAtEnd?: number;
}

/**
 * Mixes a model forecast with a provider forecast for the same periods (provider[i] is the period
 * of model.mean[i]). Steps where the provider has no finite value keep the model's value. The band,
 * when the model has one, keeps its width around the new mean. Pure: the inputs are not changed.
 */
export function blendWithProviderForecast(model: ForecastOutput, provider: Float64Array | undefined, weights: BlendWeights = {}): ForecastOutput {
  if (!provider || provider.length === 0) return model;
  const w0 = clamp01(weights.providerWeight ?? 0.5);
  const w1 = clamp01(weights.providerWeightAtEnd ?? w0);
  const n = model.mean.length;
  const mean = model.mean.slice();
  const low = model.low?.slice();
  const high = model.high?.slice();
  for (let i = 0; i < n && i < provider.length; i++) {
    const pv = provider[i];
    if (!Number.isFinite(pv)) continue;
    const w = n > 1 ? w0 + ((w1 - w0) * i) / (n - 1) : w0;
    const shift = w * (pv - mean[i]);
    mean[i] += shift;
    if (low) low[i] = Math.max(0, Math.min(low[i] + shift, mean[i]));
    if (high) high[i] = Math.max(high[i] + shift, mean[i]);
  }
  const out: ForecastOutput = { mean };
  if (low) out.low = low;
  if (high) out.high = high;
  return out;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0;
}
