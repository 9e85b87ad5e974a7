import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createForecaster, forecasterNames, walkForward, DefaultForecaster, type Forecaster, type ForecastInput } from '../../../agent/forecast/index';

const HOUR = 3_600_000;
const START = Date.UTC(2023, 0, 1);

/** A positive hourly series: a daily cycle, a random walk and noise (so every model has work). */
const series = (minDays: number, maxDays: number) =>
  fc
    .tuple(fc.integer({ min: minDays * 24, max: maxDays * 24 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.double({ min: 10, max: 500, noNaN: true }))
    .map(([n, seed, level]) => {
      let s = seed;
      const rnd = () => ((s = (s * 48271) % 2147483647) / 2147483647) - 0.5;
      const out = new Float64Array(n);
      let walk = 0;
      for (let i = 0; i < n; i++) {
        walk = 0.95 * walk + rnd() * 0.2;
        out[i] = Math.max(1, level * (1 + 0.3 * Math.sin((2 * Math.PI * i) / 24) + walk + 0.05 * rnd()));
      }
      return out;
    });

const input = (history: Float64Array, horizonSteps: number): ForecastInput => ({ history, stepMs: HOUR, nextTimestampMs: START + history.length * HOUR, horizonSteps });

test('every forecaster: changing future values never changes a forecast; lengths; band around the mean', () => {
  fc.assert(
    fc.property(series(9, 20), fc.double({ min: 0.3, max: 0.95, noNaN: true }), fc.integer({ min: 1, max: 48 }), fc.double({ min: 0, max: 1000, noNaN: true }), (s, cut, horizon, noise) => {
      const o = Math.floor(s.length * cut);
      const other = s.slice();
      for (let i = o; i < other.length; i++) other[i] = noise + i; // a different future
      for (const name of forecasterNames) {
        const a = createForecaster(name).forecast(input(s.subarray(0, o), horizon));
        const b = createForecaster(name).forecast(input(other.subarray(0, o), horizon));
        assert.deepEqual(a, b, name);
        assert.equal(a.mean.length, horizon, name);
        for (const band of [a.low, a.high]) if (band) assert.equal(band.length, horizon, name);
        if (a.low && a.high) {
          for (let i = 0; i < horizon; i++) assert.ok(a.low[i] <= a.mean[i] && a.mean[i] <= a.high[i], `${name} band at ${i}`);
        }
        assert.ok(a.mean.every(Number.isFinite), name);
      }
    }),
    { numRuns: 15, seed: 11 },
  );
});

test('default model: the same input gives the same answer whatever was asked before (cache is pure)', () => {
  fc.assert(
    fc.property(series(12, 20), fc.array(fc.double({ min: 0.4, max: 1, noNaN: true }), { minLength: 2, maxLength: 5 }), (s, cuts) => {
      const used = new DefaultForecaster();
      const ends = cuts.map((c) => Math.floor(s.length * c));
      // ask in a shuffled order, with a different step and a perturbed history in between
      for (const e of ends) {
        used.forecast(input(s.subarray(0, e), 24));
        used.forecast({ ...input(s.subarray(0, e), 5), stepMs: HOUR / 2 });
        const bent = s.slice(0, e);
        bent[Math.floor(e / 2)] += 50;
        used.forecast(input(bent, 24));
      }
      for (const e of ends) assert.deepEqual(used.forecast(input(s.subarray(0, e), 24)), new DefaultForecaster().forecast(input(s.subarray(0, e), 24)));
    }),
    { numRuns: 10, seed: 5 },
  );
});

test('walkForward: each forecast sees exactly the past, and models are scored on the same points', () => {
  const s = Float64Array.from({ length: 100 }, (_, i) => 100 + i);
  const seen: Array<[number, number]> = [];
  const spy: Forecaster = {
    name: 'spy',
    forecast(inp) {
      seen.push([inp.history.length, inp.nextTimestampMs]);
      assert.equal(inp.history[inp.history.length - 1], s[inp.history.length - 1]);
      return { mean: new Float64Array(inp.horizonSteps).fill(inp.history[inp.history.length - 1]) };
    },
  };
  const r = walkForward(spy, s, START, HOUR, { warmupSteps: 10, horizonsSteps: [1, 5] });
  assert.equal(r.origins, 90);
  assert.deepEqual(seen[0], [10, START + 10 * HOUR]);
  assert.deepEqual(seen[89], [99, START + 99 * HOUR]);
  assert.equal(r.scores[0].points, 90);
  assert.equal(r.scores[1].points, 86);
  assert.ok(Math.abs(r.scores[0].maeGPerKwh - 1) < 1e-12); // persistence on a ramp is off by one step
  assert.ok(Math.abs(r.scores[1].maeGPerKwh - 5) < 1e-12);
});
