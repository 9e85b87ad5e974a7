import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreForecast } from '../../../agent/forecast/index';

test('scoreForecast: MAPE and MAE by hand; non-finite pairs skipped; zero actuals only in MAE', () => {
  const s = scoreForecast([110, 90, NaN, 5], [100, 100, 100, 0]);
  assert.equal(s.points, 3);
  assert.ok(Math.abs(s.maeGPerKwh - 25 / 3) < 1e-12);
  assert.ok(Math.abs(s.mapePct - 10) < 1e-12);
});
