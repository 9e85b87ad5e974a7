/**
 * The small dense linear algebra the forecasters need: ridge regression by the normal equations and
 * a Cholesky solve. Problems here have at most a few dozen features, so plain loops are fastest.
 */

/**
 * Solves the symmetric positive-definite system `a · x = b` in place by Cholesky (`a` is n×n,
 * row-major, and is overwritten by its factor). Returns false when `a` is not positive definite.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    a[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l;
    }
  }
  // forward: L y = b
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= a[i * n + k] * b[k];
    b[i] = s / a[i * n + i];
  }
  // backward: Lᵀ x = y
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < n; k++) s -= a[k * n + i] * b[k];
    b[i] = s / a[i * n + i];
  }
  return true;
}

/**
 * Gram matrix XᵀX (p×p, full) and Xᵀy accumulated over rows [from, to) of column-major `x` (column k
 * of row r at `x[k·cap + r]`): each entry is one tight dot product, several times faster in
 * JavaScript than a row-major update.
 */
export function accumulateGramColumns(x: Float64Array, y: Float64Array, p: number, cap: number, from: number, to: number, xtx: Float64Array, xty: Float64Array): void {
  for (let i = 0; i < p; i++) {
    const oi = i * cap;
    let sy = 0;
    for (let r = from; r < to; r++) sy += x[oi + r] * y[r];
    xty[i] += sy;
    for (let j = 0; j <= i; j++) {
      const oj = j * cap;
      let s = 0;
      for (let r = from; r < to; r++) s += x[oi + r] * x[oj + r];
      xtx[i * p + j] += s;
      if (j !== i) xtx[j * p + i] += s;
    }
  }
}

/**
 * Solves the ridge normal equations from a Gram matrix over `rows` rows whose column 0 is the
 * intercept (not penalised). Column j ≥ 1 is penalised by λ·rows·var(column j), which is ridge on
 * standardised features, so λ means the same whatever the features' units. A constant column gets
 * a unit-variance penalty (its weight goes to ~0). Inputs are not changed.
 */
export function solveRidge(xtx: Float64Array, xty: Float64Array, rows: number, p: number, lambda: number): Float64Array {
  const a = xtx.slice();
  const n = Math.max(rows, 1);
  for (let j = 1; j < p; j++) {
    const mean = xtx[j] / n;
    const variance = Math.max(xtx[j * p + j] / n - mean * mean, 0);
    a[j * p + j] += lambda * n * (variance > 1e-12 ? variance : 1);
  }
  a[0] += 1e-9 * n;
  const beta = xty.slice();
  if (!choleskySolve(a, beta, p)) beta.fill(0);
  return beta;
}
