import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chaseSvr, fitSvr, predictSvr } from '../../../agent/forecast/index';

test('SVR: two points, closed-form solution on the tube edges', () => {
  // x = 0 → 0, x = 1 → 1, ε = 0.1, γ = 1, C large. The flattest function in the tube passes through
  // 0.1 and 0.9: coef = ±a with a(1 − e⁻¹) = 0.4 and ρ = −0.5.
  const m = fitSvr(Float64Array.of(0, 1), [0, 1], 2, 1, { c: 1000, gamma: 1, epsilon: 0.1, tolerance: 1e-9 });
  const a = 0.4 / (1 - Math.exp(-1));
  assert.ok(Math.abs(m.coef[0] + a) < 1e-6, `coef ${m.coef[0]}`);
  assert.ok(Math.abs(m.coef[1] - a) < 1e-6, `coef ${m.coef[1]}`);
  assert.ok(Math.abs(m.rho + 0.5) < 1e-6, `rho ${m.rho}`);
  assert.ok(Math.abs(predictSvr(m, [0]) - 0.1) < 1e-6);
  assert.ok(Math.abs(predictSvr(m, [1]) - 0.9) < 1e-6);
});

test('SVR: a constant target is fitted within ε, with no support vectors needed', () => {
  const x = Float64Array.from({ length: 10 }, (_, i) => i);
  const m = fitSvr(x, new Array(10).fill(5), 10, 1, { c: 100, gamma: 0.5, epsilon: 0.1 });
  for (let i = 0; i < 10; i++) assert.ok(Math.abs(predictSvr(m, [i]) - 5) <= 0.1 + 1e-9);
  assert.ok(m.coef.every((c) => c === 0));
});

test('SVR: a linear toy is fitted within ε (+ tolerance) at every training point', () => {
  const n = 20;
  const x = Float64Array.from({ length: n }, (_, i) => i / (n - 1));
  const y = Array.from(x, (v) => 2 * v + 1);
  const m = fitSvr(x, y, n, 1, { c: 100, gamma: 1, epsilon: 0.05, tolerance: 1e-6 });
  for (let i = 0; i < n; i++) assert.ok(Math.abs(predictSvr(m, [x[i]]) - y[i]) <= 0.05 + 1e-4, `point ${i}`);
  // and in between, close to the line
  assert.ok(Math.abs(predictSvr(m, [0.525]) - 2.05) < 0.06);
});

test('SVR: random RBF problems with a large C end inside the tube, and the dual constraint holds', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -5, max: 5, noNaN: true })), { minLength: 2, maxLength: 15 }), (pts) => {
      // distinct inputs (a PD kernel matrix makes interpolation feasible)
      const uniq = [...new Map(pts.map(([a, b]) => [Math.round(a * 10) / 10, b])).entries()];
      if (uniq.length < 2) return;
      const x = Float64Array.from(uniq.map(([a]) => a));
      const y = uniq.map(([, b]) => b);
      const m = fitSvr(x, y, x.length, 1, { c: 1e4, gamma: 2, epsilon: 0.2, tolerance: 1e-6, maxIterations: 200_000 });
      const sum = m.coef.reduce((s, c) => s + c, 0);
      assert.ok(Math.abs(sum) < 1e-6, `Σ(α − α*) = ${sum}`);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(predictSvr(m, [x[i]]) - y[i]) <= 0.2 + 1e-3, `point ${i}`);
    }),
    { numRuns: 60, seed: 7 },
  );
});

test('chase-svr: learns an AR(1) relation from the last 24 h and rolls it forward', () => {
  // y[t] = 0.8·y[t−1] + 60 (fixed point 300), hourly, starting at 200: a smooth function of the
  // previous value, which is what the paper's raw features let the kernel see.
  const n = 30;
  const hist = new Float64Array(n);
  hist[0] = 200;
  for (let i = 1; i < n; i++) hist[i] = 0.8 * hist[i - 1] + 60 + (i % 2 === 0 ? 0.5 : -0.5);
  const out = chaseSvr.forecast({ history: hist, stepMs: 3_600_000, nextTimestampMs: Date.UTC(2023, 0, 2, 6), horizonSteps: 3 });
  const next = 0.8 * hist[n - 1] + 60;
  assert.equal(out.mean.length, 3);
  assert.ok(Math.abs(out.mean[0] - next) < 1.5, `predicted ${out.mean[0]}, expected ≈ ${next}`);
  assert.ok(Math.abs(out.mean[1] - (0.8 * out.mean[0] + 60)) < 1.5);
});

test('chase-svr: falls back to persistence with less than a day of history', () => {
  const out = chaseSvr.forecast({ history: Float64Array.of(100, 120), stepMs: 3_600_000, nextTimestampMs: 0, horizonSteps: 2 });
  assert.deepEqual(Array.from(out.mean), [120, 120]);
});
