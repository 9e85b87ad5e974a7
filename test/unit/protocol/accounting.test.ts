import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  baselineCarbonG,
  baselineEnergyJ,
  carbonG,
  carbonOfEnergyG,
  energyFromCounterJ,
  integratePowerJ,
  joulesToKwh,
  kwhToJoules,
  millijoulesToJoules,
  MW_S_G_PER_KWH_TO_G,
  segmentsFromPower,
  timeWeightedIntensity,
  type PowerPoint,
} from '../../../agent/protocol/accounting';
import { JOULES_PER_KWH } from '../../../agent/protocol/units';

const close = (a: number, b: number, rel = 1e-9): boolean => Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

test('unit conversions: 1 kWh = 3.6 MJ, and J ↔ kWh round-trips', () => {
  assert.equal(JOULES_PER_KWH, 3_600_000);
  assert.equal(joulesToKwh(3_600_000), 1);
  assert.equal(kwhToJoules(0.5), 1_800_000);
  fc.assert(fc.property(fc.double({ min: 0, max: 1e12, noNaN: true }), (j) => close(kwhToJoules(joulesToKwh(j)), j)));
});

test('CodeCarbon formula: one segment of E kWh at I g/kWh emits E × I grams', () => {
  assert.equal(carbonG([{ energyJ: 3_600_000, intensityGPerKwh: 250 }]), 250);
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), fc.double({ min: 0, max: 2000, noNaN: true }), (j, i) => close(carbonG([{ energyJ: j, intensityGPerKwh: i }]), joulesToKwh(j) * i)),
  );
});

test('the simulator\'s and oracle\'s mW·s × g/kWh sum reads in grams as the live accounting does', () => {
  // 250 W for an hour at 400 g/kWh: 0.25 kWh × 400 = 100 g
  assert.ok(close(250_000 * 3600 * 400 * MW_S_G_PER_KWH_TO_G, 100));
  fc.assert(
    fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e5, noNaN: true }), fc.double({ min: 0, max: 2000, noNaN: true }), (mw, s, i) =>
      close(mw * s * i * MW_S_G_PER_KWH_TO_G, carbonOfEnergyG(millijoulesToJoules(mw * s), i)),
    ),
  );
});

test('carbon is additive: splitting a segment, or reordering segments, changes nothing', () => {
  const seg = fc.record({ energyJ: fc.double({ min: 0, max: 1e8, noNaN: true }), intensityGPerKwh: fc.double({ min: 0, max: 1500, noNaN: true }) });
  fc.assert(
    fc.property(fc.array(seg, { maxLength: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (segs, f) => {
      const whole = carbonG(segs);
      const split = carbonG(segs.flatMap((s) => [{ ...s, energyJ: s.energyJ * f }, { ...s, energyJ: s.energyJ * (1 - f) }]));
      const reversed = carbonG([...segs].reverse());
      return close(whole, split, 1e-9) && close(whole, reversed, 1e-9) && whole >= 0;
    }),
  );
});

test('energy: counters (mJ) and integrated power agree for constant power; a reset counter is reported as null', () => {
  assert.equal(energyFromCounterJ(1_000, 301_000), 300);
  assert.equal(energyFromCounterJ(5_000, 1_000), null);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 700_000 }), fc.integer({ min: 2, max: 200 }), fc.integer({ min: 1, max: 5000 }), (powerMw, n, stepMs) => {
      const pts: PowerPoint[] = Array.from({ length: n }, (_, k) => ({ timestampMs: k * stepMs, powerMw }));
      return close(integratePowerJ(pts), (powerMw / 1000) * (((n - 1) * stepMs) / 1000), 1e-9);
    }),
  );
});

test('time-weighted carbon: splitting power at intensity boundaries conserves energy and weights each period', () => {
  // 200 W for 2 h; 100 g/kWh in the first hour, 300 in the second → 0.2 kWh × 100 + 0.2 kWh × 300 = 80 g
  const pts: PowerPoint[] = [
    { timestampMs: 0, powerMw: 200_000 },
    { timestampMs: 7_200_000, powerMw: 200_000 },
  ];
  const steps = [
    { timestampMs: 0, intensityGPerKwh: 100 },
    { timestampMs: 3_600_000, intensityGPerKwh: 300 },
  ];
  assert.ok(close(carbonG(segmentsFromPower(pts, steps)), 80));
  assert.ok(close(timeWeightedIntensity(steps, 0, 7_200_000), 200));
  fc.assert(
    fc.property(
      fc.array(fc.record({ dt: fc.integer({ min: 1, max: 600_000 }), p: fc.integer({ min: 0, max: 500_000 }) }), { minLength: 2, maxLength: 40 }),
      fc.array(fc.record({ t: fc.integer({ min: 0, max: 10_000_000 }), i: fc.integer({ min: 0, max: 1000 }) }), { minLength: 1, maxLength: 10 }),
      (raw, rawSteps) => {
        let t = 0;
        const points = raw.map((r) => ({ timestampMs: (t += r.dt), powerMw: r.p }));
        const segs = segmentsFromPower(points, rawSteps.map((s) => ({ timestampMs: s.t, intensityGPerKwh: s.i })));
        const energy = segs.reduce((a, s) => a + s.energyJ, 0);
        const maxI = Math.max(...rawSteps.map((s) => s.i));
        const minI = Math.min(...rawSteps.map((s) => s.i));
        const c = carbonG(segs);
        return close(energy, integratePowerJ(points), 1e-9) && c <= joulesToKwh(energy) * maxI * (1 + 1e-9) && c >= joulesToKwh(energy) * minI * (1 - 1e-9);
      },
    ),
  );
});

test('baseline at max power: scaled by the profile energy ratio; equals actual when run at max', () => {
  assert.equal(baselineEnergyJ(100, 200, 300), 150);
  const profile = (mw: number): number => 100 + mw / 1000; // J per epoch grows with the limit
  fc.assert(
    fc.property(fc.array(fc.record({ energyJ: fc.double({ min: 0, max: 1e7, noNaN: true }), intensityGPerKwh: fc.double({ min: 0, max: 1000, noNaN: true }), powerLimitMw: fc.integer({ min: 100_000, max: 300_000 }) }), { maxLength: 20 }), (segs) => {
      const atMax = segs.map((s) => ({ ...s, powerLimitMw: 300_000 }));
      return close(baselineCarbonG(atMax, profile, 300_000), carbonG(atMax), 1e-9) && baselineCarbonG(segs, profile, 300_000) >= carbonG(segs) * (1 - 1e-9);
    }),
  );
});
