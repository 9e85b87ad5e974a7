/**
 * The project's default forecaster: direct multi-horizon ridge regression in log space on recent
 * and seasonal lags, refitted once per day of data time on a trailing window.
 *
 * For each horizon h (in steps) a separate linear model predicts the change z[t+h] − z[t] of
 * z = log(intensity + offset) (offset = 10 % of the window's mean, so near-zero intensities stay
 * tame) from the origin t, the last known period:
 *   - recent momentum: z[t] − z[t−1], z[t−1] − z[t−2];
 *   - daily seasonality: the same time of day on the most recent known day (d = the smallest whole
 *     number of days ≥ h back from the target) and the mean of that time over the last 7 known days,
 *     each relative to z[t]; the same two at the origin's own time of day (so that the model can
 *     carry "yesterday's shape" at today's level);
 *   - weekly seasonality: the same time one week before the target (h ≤ 1 week), relative to z[t];
 *   - level: the mean of the last day relative to z[t];
 *   - time of day of the target: sin/cos of the first two daily harmonics (UTC).
 * Ridge penalises standardised features (the intercept is free). λ is chosen per horizon and per
 * fit from a fixed grid by the mean absolute log error on the newest 7 days of training origins
 * (time-series validation), then the model is refitted on all of them. Horizons beyond 2 days reuse
 * the model of the same time of day on day 2.
 *
 * Fitting uses only data before the fit's anchor, the latest UTC midnight at or before the first
 * forecast period, with training origins from a trailing window (default 56 days, thinned evenly to
 * at most ~700 rows per horizon to bound the cost). The fit is cached and reused for every call with
 * the same anchor, step and training data, so a forecaster refits at most once per day of data time
 * and answers other calls in tens of microseconds. The fit depends only on the input (never on which
 * calls came before), so the forecaster is a pure function of its input.
 *
 * Combination: from half a day ahead the model's prediction is averaged (log space) with a simple
 * seasonal rule — halfway between the same time on the last known day and that time's 7-day mean —
 * with a weight rising linearly to ½ a day ahead. Combining forecasts is the classic remedy for a
 * single model's estimation noise; in the walk-forward over the five 2023 traces it lowers the 24-h
 * and 48-h errors on every grid (docs/forecast.md) and leaves the first 12 hours untouched.
 *
 * Band: per horizon, the 10th and 90th percentiles of the residuals (log space) on the held-out
 * validation days (in-sample residuals when the history is too short to hold any out), added to
 * the prediction and transformed back.
 *
 * With less than 10 days of history (a week of lags + 3 days of training) it answers seasonal-naive.
 */
import { persistence, type ForecastInput, type ForecastOutput, type Forecaster } from './types';
import { DAY_MS, seasonalNaive, stepsPerDay } from './baselines';
import { accumulateGramColumns, solveRidge } from './linalg';

export interface DefaultForecasterOptions {
  /** Days of training origins (trailing window). */
  windowDays?: number;
  /** Ridge penalty on standardised features; 0 (default): chosen per horizon and fit by validation. */
  lambda?: number;
  /** Offset of the log transform, as a fraction of the training window's mean (0 ⇒ raw space). */
  logOffsetFraction?: number;
  /** Lower / upper quantile of the band. */
  bandQuantiles?: [number, number];
  /**
   * At most about this many training rows per horizon: longer windows (or finer steps) use evenly
   * thinned origins, which keeps the refit cost bounded.
   */
  maxRows?: number;
}

const DEFAULTS: Required<DefaultForecasterOptions> = {
  windowDays: 56,
  lambda: 0,
  logOffsetFraction: 0.1,
  bandQuantiles: [0.1, 0.9],
  maxRows: 700,
};

/** Number of features per horizon model (including the intercept). */
const P_FEATURES = 13;
/** Indices in a feature row (see {@link Lags.features}) of the two seasonal lags. */
const F_SAME_TIME_LAST_DAY = 3;
const F_SAME_TIME_WEEK_MEAN = 4;
/** Days in the seasonal profile mean. */
const PROFILE_DAYS = 7;
/** Days of training origins needed before the model is used (else seasonal naive). */
const MIN_TRAIN_DAYS = 3;
/** Days of the newest training origins held out to choose λ. */
const VALIDATION_DAYS = 7;
/** Candidate ridge penalties (on standardised features). */
const LAMBDAS = [1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000];
/** Horizons up to this many days get their own model. */
const MAX_MODEL_DAYS = 2;

/** Weight of the seasonal rule in the combined forecast once the horizon reaches a day. */
const SEASONAL_RULE_MAX_WEIGHT = 0.5;

/**
 * Weight of the seasonal rule at horizon `h` (steps; `p` steps a day): 0 up to half a day ahead,
 * rising linearly to SEASONAL_RULE_MAX_WEIGHT a day ahead and beyond, so the curve has no step.
 */
function seasonalRuleWeight(h: number, p: number): number {
  return SEASONAL_RULE_MAX_WEIGHT * Math.min(1, Math.max(0, (2 * h) / p - 1));
}

/**
 * The seasonal rule's change from the origin (log space), from a feature row of {@link Lags.features}:
 * halfway between the same time on the last known day and that time's mean over the last week.
 */
function seasonalRuleChange(f: Float64Array): number {
  return 0.5 * f[F_SAME_TIME_LAST_DAY] + 0.5 * f[F_SAME_TIME_WEEK_MEAN];
}

interface HorizonModel {
  beta: Float64Array;
  qLow: number;
  qHigh: number;
}

interface Fit {
  stepMs: number;
  anchorMs: number;
  /** History index range [from, to) the fit read, and a copy of it (to recognise the same data). */
  from: number;
  to: number;
  data: Float64Array;
  offset: number;
  lags: Lags;
  models: Array<HorizonModel | null>; // index h − 1; null: too few samples → seasonal naive
}

export class DefaultForecaster implements Forecaster {
  readonly name = 'default';
  private readonly opts: Required<DefaultForecasterOptions>;
  private fit: Fit | undefined;
  /** How many fits were computed (for tests and the benchmark). */
  fitCount = 0;

  constructor(options: DefaultForecasterOptions = {}) {
    this.opts = { ...DEFAULTS, ...options };
  }

  forecast(input: ForecastInput): ForecastOutput {
    const { history, stepMs, nextTimestampMs, horizonSteps } = input;
    const n = history.length;
    const p = stepsPerDay(stepMs);
    const week = PROFILE_DAYS * p;
    if (p === 0 || horizonSteps <= 0) return seasonalNaive.forecast(input);

    // Training reads history[from, to): everything before the anchor (the latest UTC midnight at
    // or before the first forecast period), back to the window plus the lags it needs.
    const anchorMs = Math.floor(nextTimestampMs / DAY_MS) * DAY_MS;
    const to = n - Math.round((nextTimestampMs - anchorMs) / stepMs);
    if (to < week + MIN_TRAIN_DAYS * p) return seasonalNaive.forecast(input);
    const from = Math.max(0, to - Math.round((this.opts.windowDays * DAY_MS) / stepMs) - week - p);

    const fit = this.fitFor(history, stepMs, anchorMs, from, to);
    if (!fit) return persistence.forecast(input);
    // Horizons past MAX_MODEL_DAYS reuse the model of the same time of day on the last modelled day.
    const hMax = MAX_MODEL_DAYS * p;
    this.ensureHorizons(fit, Math.min(horizonSteps, hMax));

    // Lags of the most recent week (+ a little), in log space; the origin is its last index.
    const len = Math.min(n, week + 3);
    const recent = history.subarray(n - len);
    for (let i = 0; i < len; i++) if (!Number.isFinite(recent[i])) return persistence.forecast(input);
    const lags = new Lags(recent, fit.offset, p, nextTimestampMs - len * stepMs, stepMs, Math.min(horizonSteps, hMax));
    const t = len - 1;
    const f = new Float64Array(P_FEATURES);
    const mean = new Float64Array(horizonSteps);
    const low = new Float64Array(horizonSteps);
    const high = new Float64Array(horizonSteps);
    let naive: Float64Array | undefined;
    const back = (v: number) => Math.max(Math.exp(v) - fit.offset, 0);
    for (let h = 1; h <= horizonSteps; h++) {
      const hm = h <= hMax ? h : h - p * Math.ceil((h - hMax) / p);
      const m = fit.models[hm - 1];
      if (!m || !lags.features(t, hm, f)) {
        naive ??= seasonalNaive.forecast(input).mean;
        mean[h - 1] = low[h - 1] = high[h - 1] = naive[h - 1];
        continue;
      }
      let d = 0;
      for (let k = 0; k < P_FEATURES; k++) d += m.beta[k] * f[k];
      let base = lags.z[t] + d;
      const w = seasonalRuleWeight(h, p);
      if (w > 0) base = (1 - w) * base + w * (lags.z[t] + seasonalRuleChange(f));
      const mu = back(base);
      mean[h - 1] = mu;
      low[h - 1] = Math.min(mu, back(base + m.qLow));
      high[h - 1] = Math.max(mu, back(base + m.qHigh));
    }
    return { mean, low, high };
  }

  /** The cached fit when it was made from the same data, else a new one (undefined: bad data). */
  private fitFor(history: Float64Array, stepMs: number, anchorMs: number, from: number, to: number): Fit | undefined {
    const c = this.fit;
    if (c && c.stepMs === stepMs && c.anchorMs === anchorMs && c.from === from && c.to === to && sameValues(c.data, history, from)) {
      return c;
    }
    let sum = 0;
    for (let i = from; i < to; i++) {
      const v = history[i];
      if (!Number.isFinite(v)) return undefined;
      sum += v;
    }
    const data = history.slice(from, to);
    const offset = Math.max(this.opts.logOffsetFraction * (sum / (to - from)), 1e-6);
    const p = stepsPerDay(stepMs);
    const lags = new Lags(data, offset, p, anchorMs - (to - from) * stepMs, stepMs, 0);
    const fit: Fit = { stepMs, anchorMs, from, to, data, offset, lags, models: [] };
    this.fit = fit;
    this.fitCount++;
    return fit;
  }

  /**
   * One horizon's model. λ is chosen from LAMBDAS by the mean absolute error (log space, ≈ relative
   * error) on the last rows, a later period than the rest (time-series validation); the model is
   * then refitted on all rows with it. The band comes from the residuals on those held-out rows
   * (out of sample), or in-sample when there are too few rows to hold any out.
   */
  private fitHorizon(x: Float64Array, y: Float64Array, cap: number, count: number, firstValRow: number): HorizonModel {
    const p = P_FEATURES;
    const gram = new Float64Array(p * p);
    const xty = new Float64Array(p);
    const lambdas = this.opts.lambda > 0 ? [this.opts.lambda] : LAMBDAS;
    const split = firstValRow > 2 * p && count - firstValRow >= p ? firstValRow : count;
    accumulateGramColumns(x, y, p, cap, 0, split, gram, xty);
    const residuals = (beta: Float64Array, from: number, to: number, out: Float64Array) => {
      let sumAbs = 0;
      for (let r = from; r < to; r++) {
        let d = 0;
        for (let k = 0; k < p; k++) d += beta[k] * x[k * cap + r];
        out[r - from] = y[r] - d;
        sumAbs += Math.abs(y[r] - d);
      }
      return sumAbs;
    };
    let best = lambdas[0];
    let bestRes: Float64Array | undefined;
    if (split < count) {
      let bestErr = Infinity;
      const res = new Float64Array(count - split);
      for (const lambda of lambdas) {
        const err = residuals(solveRidge(gram, xty, split, p, lambda), split, count, res);
        if (err < bestErr) { bestErr = err; best = lambda; bestRes = res.slice(); }
      }
      accumulateGramColumns(x, y, p, cap, split, count, gram, xty);
    }
    const beta = solveRidge(gram, xty, count, p, best);
    if (!bestRes) residuals(beta, 0, count, (bestRes = new Float64Array(count)));
    bestRes.sort();
    const [ql, qh] = this.opts.bandQuantiles;
    return { beta, qLow: quantileSorted(bestRes, ql), qHigh: quantileSorted(bestRes, qh) };
  }

  /** Fits the horizon models 1…H not fitted yet (each horizon is independent of the others). */
  private ensureHorizons(fit: Fit, horizonSteps: number): void {
    if (fit.models.length >= horizonSteps) return;
    const { lags } = fit;
    const m = lags.z.length;
    const windowSteps = Math.round((this.opts.windowDays * DAY_MS) / fit.stepMs);
    const x = new Float64Array(windowSteps * P_FEATURES);
    const y = new Float64Array(windowSteps);
    for (let h = fit.models.length + 1; h <= horizonSteps; h++) {
      const lastOrigin = m - 1 - h;
      const firstOrigin = Math.max(lastOrigin - windowSteps + 1, 0);
      const thin = Math.max(1, Math.ceil((lastOrigin - firstOrigin + 1) / this.opts.maxRows));
      let count = 0;
      let firstValRow = -1; // rows from here on (the last VALIDATION_DAYS of origins) choose λ
      const firstValOrigin = lastOrigin - VALIDATION_DAYS * lags.p + 1;
      for (let t = firstOrigin; t <= lastOrigin; t++) {
        if (t >= firstValOrigin && firstValRow < 0) firstValRow = count;
        // thinning: keep one origin in `thin`, shifting the kept phase by one each day so that every
        // time of day is still represented
        if (thin > 1 && (t + Math.floor(t / lags.p)) % thin !== 0) continue;
        if (!lags.features(t, h, x, count, windowSteps)) continue;
        y[count++] = lags.z[t + h] - lags.z[t];
      }
      if (count < 4 * P_FEATURES) {
        fit.models.push(null);
        continue;
      }
      fit.models.push(this.fitHorizon(x, y, windowSteps, count, firstValRow));
    }
  }
}

/**
 * A stretch of the series in log space with the running means the features use, so that each
 * feature row costs O(1). `values[i]` is the period starting at `startMs + i·stepMs`.
 */
class Lags {
  readonly z: Float64Array;
  /** Mean of z at the same time of day over the 7 days ending at i (valid from i = 6p). */
  private readonly profile: Float64Array;
  /** Mean of z over the day ending at i (valid from i = p − 1). */
  private readonly dayMean: Float64Array;
  /** sin / cos of the time-of-day angle of index i, for i < m + extra. */
  private readonly sinA: Float64Array;
  private readonly cosA: Float64Array;

  constructor(values: ArrayLike<number>, offset: number, readonly p: number, startMs: number, stepMs: number, extra: number) {
    const m = values.length;
    const z = (this.z = new Float64Array(m));
    for (let i = 0; i < m; i++) z[i] = Math.log(Math.max(values[i], 0) + offset);
    this.profile = new Float64Array(m);
    this.dayMean = new Float64Array(m);
    for (let i = (PROFILE_DAYS - 1) * p; i < m; i++) {
      let s = 0;
      for (let k = 0; k < PROFILE_DAYS; k++) s += z[i - k * p];
      this.profile[i] = s / PROFILE_DAYS;
    }
    let s = 0;
    for (let i = 0; i < m; i++) {
      s += z[i];
      if (i >= p) s -= z[i - p];
      if (i >= p - 1) this.dayMean[i] = s / p;
    }
    const len = m + extra + 1;
    this.sinA = new Float64Array(len);
    this.cosA = new Float64Array(len);
    for (let i = 0; i < len; i++) {
      const a = (2 * Math.PI * ((((startMs + i * stepMs) % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
      this.sinA[i] = Math.sin(a);
      this.cosA[i] = Math.cos(a);
    }
  }

  /** Features for origin t (last known index) and horizon h into `f`; false when a lag is missing. */
  features(t: number, h: number, f: Float64Array, o = 0, stride = 1): boolean {
    const { z, p } = this;
    const week = PROFILE_DAYS * p;
    const d = p * Math.ceil(h / p); // whole days back from the target to a known time
    const seasonal = t + h - d; // same time of day on the latest known day
    if (t < week || seasonal < (PROFILE_DAYS - 1) * p || (h <= week && t + h < week) || t + h >= this.sinA.length) return false;
    const zt = z[t];
    f[o] = 1;
    f[o + 1 * stride] = zt - z[t - 1];
    f[o + 2 * stride] = z[t - 1] - z[t - 2];
    f[o + F_SAME_TIME_LAST_DAY * stride] = z[seasonal] - zt;
    f[o + F_SAME_TIME_WEEK_MEAN * stride] = this.profile[seasonal] - zt;
    f[o + 5 * stride] = z[t - p] - zt;
    f[o + 6 * stride] = this.profile[t - p] - zt;
    f[o + 7 * stride] = h <= week ? z[t + h - week] - zt : 0;
    f[o + 8 * stride] = this.dayMean[t] - zt;
    const sa = this.sinA[t + h];
    const ca = this.cosA[t + h];
    f[o + 9 * stride] = sa;
    f[o + 10 * stride] = ca;
    f[o + 11 * stride] = 2 * sa * ca; // sin 2a
    f[o + 12 * stride] = ca * ca - sa * sa; // cos 2a
    return true;
  }
}

function sameValues(copy: Float64Array, history: Float64Array, from: number): boolean {
  for (let i = 0; i < copy.length; i++) if (copy[i] !== history[from + i]) return false;
  return true;
}

/** Linear-interpolated quantile of sorted values. */
export function quantileSorted(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const pos = Math.min(Math.max(q, 0), 1) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
