/**
 * Scoring forecasts: error accumulators, a scorer for any array of predictions, and the walk-forward
 * evaluation used by `chase-agent forecast-bench` (each forecast sees only the past).
 */
import type { Forecaster } from './types';

export interface Score {
  /** Mean absolute percentage error, % (over points whose actual value is > 0). */
  mapePct: number;
  /** Mean absolute error, g/kWh. */
  maeGPerKwh: number;
  /** Points scored (pairs where both the prediction and the actual value are finite). */
  points: number;
}

/** Running sums for MAPE and MAE. */
export class ErrorAccumulator {
  private absSum = 0;
  private apeSum = 0;
  private apeCount = 0;
  points = 0;

  add(predicted: number, actual: number): void {
    if (!Number.isFinite(predicted) || !Number.isFinite(actual)) return;
    const err = Math.abs(predicted - actual);
    this.absSum += err;
    this.points++;
    if (actual > 0) {
      this.apeSum += err / actual;
      this.apeCount++;
    }
  }

  score(): Score {
    return {
      mapePct: this.apeCount > 0 ? (100 * this.apeSum) / this.apeCount : NaN,
      maeGPerKwh: this.points > 0 ? this.absSum / this.points : NaN,
      points: this.points,
    };
  }
}

/**
 * Scores predictions against actual values, position by position (e.g. a provider's forecast, or a
 * model's); pairs with a non-finite side are skipped.
 */
export function scoreForecast(predicted: ArrayLike<number>, actual: ArrayLike<number>): Score {
  const acc = new ErrorAccumulator();
  const n = Math.min(predicted.length, actual.length);
  for (let i = 0; i < n; i++) acc.add(predicted[i], actual[i]);
  return acc.score();
}

export interface WalkForwardOptions {
  /** Periods at the start that are only history (no forecast starts before this index). */
  warmupSteps: number;
  /** Horizons to score, in steps (1 = the next period). */
  horizonsSteps: number[];
  /** Forecast from every `stride`-th origin (default 1: every origin). */
  stride?: number;
}

export interface WalkForwardResult {
  /** Forecast origins used. */
  origins: number;
  /** One score per entry of `horizonsSteps`. */
  scores: Score[];
}

/**
 * Walks forward through a series: at each origin o (warmup ≤ o < length) the forecaster sees
 * `series[0, o)` and predicts the next max(horizons) periods; the prediction h steps ahead is scored
 * against `series[o + h − 1]` when that exists. Every model scored with the same series and
 * horizons is scored on exactly the same (origin, horizon) pairs.
 */
export function walkForward(
  forecaster: Forecaster,
  series: Float64Array,
  startMs: number,
  stepMs: number,
  options: WalkForwardOptions,
  onForecast?: (origin: number, mean: Float64Array) => void,
): WalkForwardResult {
  const horizons = options.horizonsSteps;
  const maxH = Math.max(...horizons);
  const stride = Math.max(1, Math.floor(options.stride ?? 1));
  const accs = horizons.map(() => new ErrorAccumulator());
  let origins = 0;
  for (let o = Math.max(1, options.warmupSteps); o < series.length; o += stride) {
    const out = forecaster.forecast({
      history: series.subarray(0, o),
      stepMs,
      nextTimestampMs: startMs + o * stepMs,
      horizonSteps: maxH,
    });
    origins++;
    onForecast?.(o, out.mean);
    horizons.forEach((h, k) => {
      const target = o + h - 1;
      if (target < series.length) accs[k].add(out.mean[h - 1], series[target]);
    });
  }
  return { origins, scores: accs.map((a) => a.score()) };
}
