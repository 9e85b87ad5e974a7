/**
 * The run's projection (agent/runs/projection.ts) over the measured Zeus A40 ResNet-50 profile
 * (agent/gpu/profiles/summary_power_a40.csv): exact arithmetic on small cases, and properties —
 * bounds (the band holds the projection, totals never fall below what is done) and monotonicity (more
 * work or a dirtier forecast never projects less carbon).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import { adviseStart, plannedPoint, projectionErrorPct, projectRun, type ProjectionInput } from '../../../agent/runs/projection';
import { carbonOfEnergyG, milliwattsToWatts } from '../../../agent/protocol/accounting';
import { HOUR_MS } from '../../../agent/protocol/units';

const profile = loadDefaultProfile();
const max = profile.maxPoint;
const T0 = Date.UTC(2023, 3, 16, 8);

/** A run that has done nothing yet, at T0, under a constant forecast of `g` g/kWh. */
function input(over: Partial<ProjectionInput> = {}, g = 100): ProjectionInput {
  return {
    profile,
    budgetPct: 10,
    nowMs: T0,
    virtualNowMs: T0,
    speed: 1,
    elapsedMs: 0,
    unitsDone: 0,
    energyJ: 0,
    carbonG: 0,
    baselineEnergyJ: 0,
    baselineCarbonG: 0,
    totalUnits: 10 * max.unitsPerS * 3600, // ten hours at max power
    horizonHours: 24,
    forecast: { startMs: T0, periodMs: HOUR_MS, mean: [g] },
    ...over,
  };
}

const close = (a: number, b: number, rel = 1e-9) => Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

test('the planned limit is the least energy per unit that keeps the run within its budget', () => {
  const p = plannedPoint(profile, 10, 1000, 0, 0);
  assert.ok(p.unitsPerS >= max.unitsPerS / 1.1 - 1e-12, 'fast enough for the budget');
  for (const c of profile.candidates) {
    if (c.unitsPerS >= max.unitsPerS / 1.1) assert.ok(p.avgPowerMw / p.unitsPerS <= c.avgPowerMw / c.unitsPerS + 1e-12, `${c.powerLimitMw} mW uses less energy per unit`);
  }
  assert.ok(p.powerLimitMw < max.powerLimitMw, 'a 10 % budget leaves the maximum limit');
  // no time left in the budget: the maximum limit
  assert.equal(plannedPoint(profile, 10, 1000, 500, (1000 / max.unitsPerS) * 1.1 * 1000).powerLimitMw, max.powerLimitMw);
});

test('a constant forecast: energy, carbon and finish time are the planned limit\'s, exactly', () => {
  const i = input();
  const p = projectRun(i);
  const point = plannedPoint(profile, 10, i.totalUnits!, 0, 0);
  const s = i.totalUnits! / point.unitsPerS;
  const energyJ = milliwattsToWatts(point.avgPowerMw) * s;
  assert.equal(p.basis, 'totalUnits');
  assert.equal(p.powerLimitMw, point.powerLimitMw);
  assert.ok(close(p.energyJ, energyJ));
  assert.ok(close(p.carbonG, carbonOfEnergyG(energyJ, 100)));
  assert.ok(close(p.baselineCarbonG, carbonOfEnergyG(milliwattsToWatts(max.avgPowerMw) * (i.totalUnits! / max.unitsPerS), 100)));
  assert.ok(close(p.finishAtMs!, T0 + s * 1000));
  assert.ok(p.savedCarbonG > 0, 'a lower limit saves energy, so carbon under a flat grid');
  assert.ok(p.slowdownPct <= 10 + 1e-9, `slowdown ${p.slowdownPct} % within the 10 % budget`);
  // no band in the forecast: the band is the projection itself
  assert.equal(p.carbonLowG, p.carbonG);
  assert.equal(p.carbonHighG, p.carbonG);
});

test('the work is spread over the periods it falls in, in the carbon clock (a sped-up replay)', () => {
  // 3600×: one period is one wall second; the remaining work takes exactly two of them (the rest of the current one and the next)
  const speed = 3600;
  const point = plannedPoint(profile, 10, 1, 0, 0);
  const units = point.unitsPerS * 2; // two wall seconds at the planned limit
  const p = projectRun(input({ speed, totalUnits: units, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [100, 300, 900] } }));
  const j = milliwattsToWatts(point.avgPowerMw);
  assert.ok(close(p.carbonG, carbonOfEnergyG(j, 100) + carbonOfEnergyG(j, 300)), `${p.carbonG} g`);
  // halfway through the first period: half a second there, one in the next, half in the third
  const half = projectRun(input({ speed, nowMs: T0 + 500, virtualNowMs: T0 + HOUR_MS / 2, totalUnits: units, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [100, 300, 900] } }));
  assert.ok(close(half.carbonG, carbonOfEnergyG(j / 2, 100) + carbonOfEnergyG(j, 300) + carbonOfEnergyG(j / 2, 900)), `${half.carbonG} g`);
  // beyond the forecast its last value is carried on
  const long = projectRun(input({ speed, totalUnits: units * 3, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [100, 300] } }));
  assert.ok(close(long.carbonG, carbonOfEnergyG(j, 100) + carbonOfEnergyG(j * 5, 300)), `${long.carbonG} g`);
});

test('without a total, the next 24 h of the carbon clock are projected, and said so (no finish time)', () => {
  const p = projectRun(input({ totalUnits: undefined, speed: 3600 }));
  assert.equal(p.basis, 'horizon');
  assert.equal(p.horizonHours, 24);
  assert.equal(p.finishAtMs, undefined);
  const point = plannedPoint(profile, 10, 1, 0, 0);
  assert.ok(close(p.unitsTotal, (point.unitsPerS * 24 * 3600) / 3600), 'the work of 24 trace hours = 24 wall seconds at 3600×');
});

const forecastArb = fc.array(fc.double({ min: 0, max: 1500, noNaN: true }), { minLength: 1, maxLength: 48 }).chain((mean) =>
  fc.tuple(fc.constant(mean), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: mean.length, maxLength: mean.length }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: mean.length, maxLength: mean.length })),
);
const progressArb = fc.record({
  doneFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  pace: fc.double({ min: 0.9, max: 1.5, noNaN: true }), // time taken so far / time at max power
  totalH: fc.double({ min: 0.01, max: 48, noNaN: true }),
  speed: fc.constantFrom(1, 60, 3600),
  budgetPct: fc.double({ min: 0, max: 100, noNaN: true }),
});

function arbitraryInput([mean, lowK, highK]: [number[], number[], number[]], r: { doneFrac: number; pace: number; totalH: number; speed: number; budgetPct: number }): ProjectionInput {
  const totalUnits = r.totalH * 3600 * max.unitsPerS;
  const unitsDone = totalUnits * r.doneFrac;
  const elapsedMs = (unitsDone / max.unitsPerS) * r.pace * 1000;
  const soFar = (unitsDone / max.unitsPerS) * milliwattsToWatts(max.avgPowerMw);
  return input({
    budgetPct: r.budgetPct,
    speed: r.speed,
    totalUnits,
    unitsDone,
    elapsedMs,
    energyJ: soFar * 0.9,
    carbonG: carbonOfEnergyG(soFar * 0.9, 200),
    baselineEnergyJ: soFar,
    baselineCarbonG: carbonOfEnergyG(soFar, 200),
    forecast: { startMs: T0, periodMs: HOUR_MS, mean, low: mean.map((m, k) => m * lowK[k]), high: mean.map((m, k) => m * (1 + highK[k])) },
  });
}

test('property: the band holds the projection; totals never fall below what is done; the finish is ahead', () => {
  fc.assert(
    fc.property(forecastArb, progressArb, (f, r) => {
      const i = arbitraryInput(f, r);
      const p = projectRun(i);
      assert.ok(p.carbonLowG <= p.carbonG + 1e-9 && p.carbonG <= p.carbonHighG + 1e-9, `band ${p.carbonLowG} ≤ ${p.carbonG} ≤ ${p.carbonHighG}`);
      assert.ok(p.energyJ >= i.energyJ - 1e-9 && p.carbonG >= i.carbonG - 1e-9 && p.baselineCarbonG >= i.baselineCarbonG - 1e-9);
      assert.ok(p.finishAtMs! >= i.nowMs);
      assert.ok(Number.isFinite(p.savedCarbonG) && Number.isFinite(p.slowdownPct));
    }),
  );
});

test('property: more remaining work, or a dirtier forecast, never projects less carbon; a flat grid never projects a loss on the remaining work', () => {
  fc.assert(
    fc.property(forecastArb, progressArb, fc.double({ min: 1, max: 3, noNaN: true }), (f, r, k) => {
      const i = arbitraryInput(f, r);
      const p = projectRun(i);
      const dirtier = projectRun({ ...i, forecast: { ...i.forecast, mean: i.forecast.mean.map((m) => m * k) } });
      assert.ok(dirtier.carbonG >= p.carbonG - 1e-9, `×${k} intensity: ${dirtier.carbonG} < ${p.carbonG}`);
      // more total work, same progress: at least as much (the planned limit may only get faster, never slower per unit of energy saved)
      const more = projectRun({ ...i, totalUnits: i.totalUnits! * k });
      assert.ok(more.energyJ >= p.energyJ - 1e-6, `×${k} work: ${more.energyJ} J < ${p.energyJ} J`);
      const flat = projectRun({ ...i, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [i.forecast.mean[0]] } });
      assert.ok(flat.savedCarbonG - (i.baselineCarbonG - i.carbonG) >= -1e-9, 'the remaining work saves ≥ 0 under a flat grid');
    }),
  );
});

test('how far off: % of the projected carbon, signed; undefined without a projection to compare', () => {
  assert.equal(projectionErrorPct(2, 2.2)?.toFixed(6), '10.000000');
  assert.equal(projectionErrorPct(2, 1.5), -25);
  assert.equal(projectionErrorPct(0, 1), undefined);
});

test('start-time advice: after three dirty hours the grid is clean — starting then is advised, with the cut; a flat grid advises now', () => {
  const point = plannedPoint(profile, 10, 1, 0, 0);
  const totalUnits = point.unitsPerS * 3600; // one hour of work
  const base = { ...input(), totalUnits, windowHours: 6 };
  const dirtyFirst = adviseStart({ ...base, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [400, 400, 400, 100, 100, 100, 100, 100] } });
  assert.equal(dirtyFirst.bestStartAtMs, T0 + 3 * HOUR_MS, 'the first clean hour');
  assert.ok(close(dirtyFirst.cutPct, 75), `a quarter of the carbon: cut ${dirtyFirst.cutPct} %`);
  assert.ok(close(dirtyFirst.best.carbonG, dirtyFirst.now.carbonG / 4));
  const flat = adviseStart({ ...base, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [200] } });
  assert.equal(flat.bestStartAtMs, T0);
  assert.equal(flat.cutPct, 0);
  // a window of 0 h only ever advises now; at 3600× a start 3 trace hours on is 3 wall seconds on
  assert.equal(adviseStart({ ...base, windowHours: 0, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [400, 100] } }).bestStartAtMs, T0);
  const fast = adviseStart({ ...base, speed: 3600, totalUnits: totalUnits / 3600, forecast: { startMs: T0, periodMs: HOUR_MS, mean: [400, 400, 400, 100] } });
  assert.equal(fast.bestStartAtMs, T0 + 3000);
});
