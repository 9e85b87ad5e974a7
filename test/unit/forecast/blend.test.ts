import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blendWithProviderForecast, scoreForecast, type ForecastOutput } from '../../../agent/forecast/index';

const model: ForecastOutput = { mean: Float64Array.of(100, 200, 300), low: Float64Array.of(90, 180, 270), high: Float64Array.of(110, 220, 330) };

test('blend: no provider → the model, unchanged', () => {
  assert.equal(blendWithProviderForecast(model, undefined), model);
});

test('blend: weights 0 and 1, NaN gaps keep the model, the band keeps its width, inputs untouched', () => {
  const provider = Float64Array.of(120, NaN, 240);
  assert.deepEqual(Array.from(blendWithProviderForecast(model, provider, { providerWeight: 0 }).mean), [100, 200, 300]);
  const all = blendWithProviderForecast(model, provider, { providerWeight: 1 });
  assert.deepEqual(Array.from(all.mean), [120, 200, 240]);
  assert.deepEqual(Array.from(all.low ?? []), [110, 180, 210]);
  assert.deepEqual(Array.from(all.high ?? []), [130, 220, 270]);
  const half = blendWithProviderForecast(model, provider);
  assert.deepEqual(Array.from(half.mean), [110, 200, 270]);
  assert.deepEqual(Array.from(model.mean), [100, 200, 300]);
});

test('blend: the weight moves linearly to providerWeightAtEnd; a short provider array blends its steps only', () => {
  const out = blendWithProviderForecast({ mean: Float64Array.of(0, 0, 0) }, Float64Array.of(100, 100, 100), { providerWeight: 1, providerWeightAtEnd: 0 });
  assert.deepEqual(Array.from(out.mean), [100, 50, 0]);
  const short = blendWithProviderForecast({ mean: Float64Array.of(0, 0, 0) }, Float64Array.of(100), { providerWeight: 1 });
  assert.deepEqual(Array.from(short.mean), [100, 0, 0]);
});

test('scoreForecast: MAPE and MAE by hand; non-finite pairs skipped; zero actuals only in MAE', () => {
  const s = scoreForecast([110, 90, NaN, 5], [100, 100, 100, 0]);
  assert.equal(s.points, 3);
  assert.ok(Math.abs(s.maeGPerKwh - 25 / 3) < 1e-12);
  assert.ok(Math.abs(s.mapePct - 10) < 1e-12);
});
