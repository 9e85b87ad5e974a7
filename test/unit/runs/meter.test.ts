/**
 * RunMeter on its own: GPUs whose counters the test moves, a fake hourly carbon source. Energy from
 * counter deltas (summed over the run's GPUs) or integrated power, carbon at the intensity of the
 * period the energy was used in, the max-power baseline over the same periods, slowdown, and the
 * GPU-activity proxy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunMeter, slowdownPct } from '../../../agent/runs/meter';
import { RunCarbon } from '../../../agent/runs/runCarbon';
import { buildProfile } from '../../../agent/profile/profile';
import { HOUR_MS } from '../../../agent/protocol/units';
import { fakeBackend, fakeCarbon, gpuInfo, type FakeGpu } from './fakes';

const T0 = Date.parse('2026-03-10T00:00:00Z');
/** 100 g/kWh in the first hour, 300 in the second. */
const carbon = () => new RunCarbon(fakeCarbon((h) => (h === 0 ? 100 : 300), T0));
const KWH_J = 3.6e6;

function gpu(index: number, energyCounter = true): FakeGpu {
  return { info: gpuInfo(index, { energyCounter }), reading: { timestampMs: T0, powerMw: 200_000, powerLimitMw: 300_000, ...(energyCounter ? { energyMj: 1_000_000 } : {}) } };
}

test('energy is the sum of the GPUs\' counter deltas; carbon uses the intensity of the hour it was used in', async () => {
  const g = [gpu(0), gpu(1)];
  const meter = new RunMeter(fakeBackend(g), g.map((x) => x.info), carbon());
  assert.equal(await meter.sample(), 0, 'the first sample is where the meters start');
  await meter.account(0, T0, 0);
  // 1.8 MJ on each GPU in the first hour, then 0.9 MJ each in the second
  for (const x of g) x.reading = { ...x.reading, timestampMs: T0 + HOUR_MS - 1, energyMj: 1_000_000 + 1.8e9 };
  const first = await meter.sample();
  await meter.account(first, T0 + HOUR_MS - 1, 100);
  for (const x of g) x.reading = { ...x.reading, timestampMs: T0 + HOUR_MS + 1, energyMj: 1_000_000 + 2.7e9 };
  await meter.account(await meter.sample(), T0 + HOUR_MS + 1, 150);
  assert.equal(first, 3.6e9);
  assert.ok(Math.abs(meter.energyJ - 5.4e6) < 1e-6);
  assert.ok(Math.abs(meter.carbonG - ((3.6e6 / KWH_J) * 100 + (1.8e6 / KWH_J) * 300)) < 1e-9, `carbon ${meter.carbonG}`);
  assert.deepEqual(meter.energyCounters, [
    { uuid: 'GPU-fake-0', firstMj: 1_000_000, lastMj: 1_000_000 + 2.7e9 },
    { uuid: 'GPU-fake-1', firstMj: 1_000_000, lastMj: 1_000_000 + 2.7e9 },
  ]);
});

test('without a counter, energy is integrated from power between samples', async () => {
  const g = [gpu(0, false)];
  const meter = new RunMeter(fakeBackend(g), g.map((x) => x.info), carbon());
  await meter.sample();
  g[0].reading = { ...g[0].reading, timestampMs: T0 + 10_000, powerMw: 300_000 };
  await meter.account(await meter.sample(), T0 + 10_000, 0);
  assert.ok(Math.abs(meter.energyJ - 2500) < 1e-9, `trapezoid of 200 W → 300 W over 10 s = 2500 J, got ${meter.energyJ}`);
  assert.deepEqual(meter.energyCounters, [{ uuid: 'GPU-fake-0' }]);
});

test('baseline: the work of each hour, done at the profile\'s maximum limit, at that hour\'s intensity; slowdown against it', async () => {
  const g = [gpu(0)];
  const meter = new RunMeter(fakeBackend(g), g.map((x) => x.info), carbon());
  await meter.sample();
  await meter.account(0, T0 + 1000, 360); // 360 units in the first hour
  await meter.account(0, T0 + HOUR_MS + 1000, 480); // 120 more in the second
  const profile = buildProfile('p', 'steps', [
    { powerLimitMw: 300_000, avgPowerMw: 250_000, unitsPerS: 0.1 },
    { powerLimitMw: 200_000, avgPowerMw: 180_000, unitsPerS: 0.09 },
  ]);
  const base = meter.baseline(profile);
  // 360 units at 0.1/s = 3600 s at 250 W = 900 kJ; 120 units = 1200 s = 300 kJ
  assert.ok(Math.abs(base.energyJ - 1.2e6) < 1e-6, `baseline energy ${base.energyJ}`);
  assert.ok(Math.abs(base.carbonG - ((9e5 / KWH_J) * 100 + (3e5 / KWH_J) * 300)) < 1e-9);
  assert.ok(Math.abs((slowdownPct(profile, 5280_000, 480) ?? NaN) - 10) < 1e-9, '480 units in 5280 s against 4800 s at the maximum: 10 %');
  assert.equal(slowdownPct(profile, 1000, 0), undefined, 'no work, no slowdown');
});

test('activity proxy: busy seconds at 1 GHz where the backend reads activity, else energy at the maximum limit\'s power', async () => {
  const g = [gpu(0), gpu(1)];
  const withActivity = new RunMeter(fakeBackend(g, () => 1500), g.map((x) => x.info), carbon());
  assert.equal(withActivity.activityUnits(0, T0, 300_000), 0, 'the first call starts the clock');
  assert.equal(withActivity.activityUnits(0, T0 + 2000, 300_000), 6, '2 GPUs × 1.5 × 2 s');
  const without = new RunMeter(fakeBackend(g), g.map((x) => x.info), carbon());
  assert.equal(without.activityUnits(600_000, T0, 300_000), 2, '600 J at 300 W = 2 s');
});
