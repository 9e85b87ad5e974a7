/**
 * Epsilon-support-vector regression with an RBF kernel, solved by SMO (sequential minimal
 * optimisation) with second-order working-set selection, as in LIBSVM (Fan, Chen & Lin, JMLR 2005).
 *
 * Dual problem over 2·l variables a = [α; α*]:
 *   min ½ aᵀQa + pᵀa   s.t.  Σ sᵢ aᵢ = 0,  0 ≤ aᵢ ≤ C
 * with sᵢ = +1 for the first l and −1 for the last l, Qᵢⱼ = sᵢ sⱼ K(xᵢ, xⱼ) (indices mod l),
 * p = [ε − y; ε + y]. The model is f(x) = Σ (αᵢ − α*ᵢ) K(xᵢ, x) − ρ.
 *
 * Meant for small problems (the Chase baseline fits 24 samples): the kernel matrix is kept whole.
 */

export interface SvrParams {
  /** Box constraint. */
  c: number;
  /** RBF width: K(u, v) = exp(−γ‖u − v‖²). */
  gamma: number;
  /** Half-width of the insensitive tube, in the target's units. */
  epsilon: number;
  /** Stopping tolerance on the KKT violation (LIBSVM's default 1e-3). */
  tolerance?: number;
  /** Safety cap on SMO iterations. */
  maxIterations?: number;
}

export interface SvrModel {
  /** Training inputs, row-major, `count` × `dims`. */
  x: Float64Array;
  count: number;
  dims: number;
  /** αᵢ − α*ᵢ per training sample. */
  coef: Float64Array;
  rho: number;
  gamma: number;
  /** SMO iterations used (for tests and diagnostics). */
  iterations: number;
}

function rbf(x: Float64Array, i: number, z: ArrayLike<number>, zOff: number, dims: number, gamma: number): number {
  let d2 = 0;
  for (let k = 0; k < dims; k++) {
    const d = x[i * dims + k] - z[zOff + k];
    d2 += d * d;
  }
  return Math.exp(-gamma * d2);
}

/** Fits an epsilon-SVR. `x` is row-major `count` × `dims`; `y` has `count` targets. */
export function fitSvr(x: Float64Array, y: ArrayLike<number>, count: number, dims: number, params: SvrParams): SvrModel {
  const { c, gamma, epsilon } = params;
  const tol = params.tolerance ?? 1e-3;
  const maxIter = params.maxIterations ?? 100_000;
  const l = count;
  const n = 2 * l;
  const k = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    k[i * l + i] = 1;
    for (let j = 0; j < i; j++) k[i * l + j] = k[j * l + i] = rbf(x, i, x, j * dims, dims, gamma);
  }
  const sign = (t: number) => (t < l ? 1 : -1);
  const alpha = new Float64Array(n);
  const grad = new Float64Array(n);
  for (let t = 0; t < l; t++) {
    grad[t] = epsilon - y[t];
    grad[t + l] = epsilon + y[t];
  }
  const upOk = (t: number) => (t < l ? alpha[t] < c : alpha[t] > 0); // may increase sₜaₜ
  const lowOk = (t: number) => (t < l ? alpha[t] > 0 : alpha[t] < c); // may decrease sₜaₜ
  const TAU = 1e-12;

  let iter = 0;
  for (; iter < maxIter; iter++) {
    // i: maximal violating index in I_up.
    let gmax = -Infinity;
    let i = -1;
    for (let t = 0; t < n; t++) {
      if (!upOk(t)) continue;
      const v = -sign(t) * grad[t];
      if (v > gmax) { gmax = v; i = t; }
    }
    // j: second-order choice in I_low.
    let gmin = Infinity;
    let j = -1;
    let best = Infinity;
    if (i >= 0) {
      const ki = i % l;
      for (let t = 0; t < n; t++) {
        if (!lowOk(t)) continue;
        const v = -sign(t) * grad[t];
        if (v < gmin) gmin = v;
        const b = gmax - v;
        if (b > 0) {
          const kt = t % l;
          let a = 2 - 2 * k[ki * l + kt]; // K_ii + K_tt − 2K_it, with K_ii = 1 for RBF
          if (a <= 0) a = TAU;
          const obj = -(b * b) / a;
          if (obj <= best) { best = obj; j = t; }
        }
      }
    }
    if (i < 0 || j < 0 || gmax - gmin < tol) break;

    const ki = i % l;
    const kj = j % l;
    const si = sign(i);
    const sj = sign(j);
    let quad = 2 - 2 * k[ki * l + kj];
    if (quad <= 0) quad = TAU;
    const oldAi = alpha[i];
    const oldAj = alpha[j];
    if (si !== sj) {
      const delta = (-grad[i] - grad[j]) / quad;
      const diff = alpha[i] - alpha[j];
      alpha[i] += delta;
      alpha[j] += delta;
      if (diff > 0) {
        if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = diff; }
      } else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = -diff; }
      if (diff > 0) {
        if (alpha[i] > c) { alpha[i] = c; alpha[j] = c - diff; }
      } else if (alpha[j] > c) { alpha[j] = c; alpha[i] = c + diff; }
    } else {
      const delta = (grad[i] - grad[j]) / quad;
      const sum = alpha[i] + alpha[j];
      alpha[i] -= delta;
      alpha[j] += delta;
      if (sum > c) {
        if (alpha[i] > c) { alpha[i] = c; alpha[j] = sum - c; }
      } else if (alpha[j] < 0) { alpha[j] = 0; alpha[i] = sum; }
      if (sum > c) {
        if (alpha[j] > c) { alpha[j] = c; alpha[i] = sum - c; }
      } else if (alpha[i] < 0) { alpha[i] = 0; alpha[j] = sum; }
    }
    const dAi = alpha[i] - oldAi;
    const dAj = alpha[j] - oldAj;
    // G_t += Q_ti ΔA_i + Q_tj ΔA_j, Q_ts = s_t s_s K
    for (let t = 0; t < n; t++) {
      const kt = t % l;
      const st = sign(t);
      grad[t] += st * (si * k[kt * l + ki] * dAi + sj * k[kt * l + kj] * dAj);
    }
  }

  // ρ: mean of sᵢGᵢ over free variables, else the middle of the feasible interval.
  let ub = Infinity;
  let lb = -Infinity;
  let sumFree = 0;
  let nFree = 0;
  for (let t = 0; t < n; t++) {
    const yg = sign(t) * grad[t];
    if (alpha[t] >= c) {
      if (sign(t) === -1) ub = Math.min(ub, yg);
      else lb = Math.max(lb, yg);
    } else if (alpha[t] <= 0) {
      if (sign(t) === 1) ub = Math.min(ub, yg);
      else lb = Math.max(lb, yg);
    } else {
      sumFree += yg;
      nFree++;
    }
  }
  const rho = nFree > 0 ? sumFree / nFree : (ub + lb) / 2;
  const coef = new Float64Array(l);
  for (let t = 0; t < l; t++) coef[t] = alpha[t] - alpha[t + l];
  return { x: x.slice(0, l * dims), count: l, dims, coef, rho, gamma, iterations: iter };
}

/** f(z) for one input `z` of length `dims`. */
export function predictSvr(model: SvrModel, z: ArrayLike<number>): number {
  let f = -model.rho;
  for (let i = 0; i < model.count; i++) {
    if (model.coef[i] !== 0) f += model.coef[i] * rbf(model.x, i, z, 0, model.dims, model.gamma);
  }
  return f;
}
