/**
 * The forecaster interface shared by the live agent, the forecast benchmark and the simulator.
 *
 * Information rule: `history` holds only actual values known at decision time (oldest first, evenly
 * spaced by `stepMs`, the last one being the most recent complete period). A forecaster predicts the
 * `horizonSteps` periods after it; the first prediction is for `nextTimestampMs`.
 *
 * Forecasters may keep state between calls (e.g. refit at most once per simulated day) — the
 * simulator calls them once per period for thousands of periods — but must give the same answer for
 * the same inputs whatever was asked before.
 */
export interface ForecastInput {
  history: Float64Array;
  stepMs: number;
  /** Start of the first forecast period, epoch ms UTC. */
  nextTimestampMs: number;
  horizonSteps: number;
}

export interface ForecastOutput {
  /** Expected intensity, g/kWh, one per step. */
  mean: Float64Array;
  /** Uncertainty band (e.g. 10th / 90th percentile), g/kWh, when the model gives one. */
  low?: Float64Array;
  high?: Float64Array;
}

export interface Forecaster {
  readonly name: string;
  forecast(input: ForecastInput): ForecastOutput;
}

/** The last known value, carried forward. The simplest baseline, and the fallback. */
export const persistence: Forecaster = {
  name: 'persistence',
  forecast({ history, horizonSteps }) {
    const last = history.length > 0 ? history[history.length - 1] : NaN;
    return { mean: new Float64Array(horizonSteps).fill(last) };
  },
};
