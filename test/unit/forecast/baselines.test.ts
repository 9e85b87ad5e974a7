import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createForecaster, forecasterNames, persistence, seasonalNaive } from '../../../agent/forecast/index';

const HOUR = 3_600_000;

test('createForecaster knows every name, and only those', () => {
  assert.deepEqual([...forecasterNames], ['persistence', 'seasonal-naive', 'chase-svr', 'default']);
  for (const n of forecasterNames) assert.equal(createForecaster(n).name, n);
  assert.throws(() => createForecaster('nope' as never), /unknown forecaster "nope"/);
});

test('seasonal-naive: the value one day before each target, the last known day beyond a day', () => {
  const hist = Float64Array.from({ length: 72 }, (_, i) => i); // value = index, hourly
  const out = seasonalNaive.forecast({ history: hist, stepMs: HOUR, nextTimestampMs: 72 * HOUR, horizonSteps: 50 });
  // target index 71 + h; one day before: 47 + h for h ≤ 24; same hour of the last known day beyond
  assert.equal(out.mean[0], 48); // h = 1 → index 72 − 24
  assert.equal(out.mean[23], 71); // h = 24 → the last known value
  assert.equal(out.mean[24], 48); // h = 25 → index 96 − 48
  assert.equal(out.mean[47], 71);
  assert.equal(out.mean[48], 48); // h = 49 → index 120 − 72
});

test('seasonal-naive: 30-minute steps use 48 periods per day; short history falls back to persistence', () => {
  const hist = Float64Array.from({ length: 60 }, (_, i) => i);
  const out = seasonalNaive.forecast({ history: hist, stepMs: HOUR / 2, nextTimestampMs: 0, horizonSteps: 2 });
  assert.deepEqual(Array.from(out.mean), [12, 13]);
  const short = seasonalNaive.forecast({ history: Float64Array.of(5, 6), stepMs: HOUR, nextTimestampMs: 0, horizonSteps: 2 });
  assert.deepEqual(Array.from(short.mean), [6, 6]);
});

test('persistence carries the last value', () => {
  assert.deepEqual(Array.from(persistence.forecast({ history: Float64Array.of(1, 2, 3), stepMs: HOUR, nextTimestampMs: 0, horizonSteps: 3 }).mean), [3, 3, 3]);
});
