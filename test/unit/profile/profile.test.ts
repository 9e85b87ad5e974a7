import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildProfile, energyPerUnitMj, profileFromMeasurements, ProfileError } from '../../../agent/profile/profile';
import { parseZeusProfile } from '../../../agent/profile/zeus';
import { A40_RESNET50_B128_CSV, a40 } from '../control/fixtures';

const near = (a: number, b: number, rel = 1e-9) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} ≉ ${b}`);
const limitsW = (ps: Array<{ powerLimitMw: number }>) => ps.map((p) => p.powerLimitMw / 1000);

describe('power profiles', () => {
  it('reads the Zeus A40 ResNet-50 b128 rows in mW and epochs per second', () => {
    const p = a40();
    assert.deepEqual(limitsW(p.measured), [100, 125, 150, 175, 200, 225, 250, 275, 300]);
    const at = (w: number) => p.measured.find((q) => q.powerLimitMw === w * 1000)!;
    // the README's examples: 300 W → 3739.5 s/epoch at 244.3 W … 150 W → 6147.5 s at 144.3 W
    near(1 / at(300).unitsPerS, 3739.5);
    near(at(300).avgPowerMw, 244.26058546458663 * 1000);
    near(1 / at(250).unitsPerS, 3804.21);
    near(at(250).avgPowerMw, 216.21927459289037 * 1000);
    near(1 / at(200).unitsPerS, 3992.39);
    near(1 / at(150).unitsPerS, 6147.46);
    assert.equal(p.maxPoint.powerLimitMw, 300_000);
    assert.equal(p.unit, 'epoch');
  });

  it('interpolates 5 W candidates linearly in time per epoch and power', () => {
    const p = a40();
    assert.equal(p.candidates.length, 41); // 100…300 W every 5 W
    const c235 = p.candidates.find((q) => q.powerLimitMw === 235_000)!;
    assert.equal(c235.measured, false);
    near(1 / c235.unitsPerS, 0.6 * 3862.42 + 0.4 * 3804.21); // 3839.136 s
    near(c235.avgPowerMw, 1000 * (0.6 * 198.38104893564224 + 0.4 * 216.21927459289037));
  });

  it('hand-checked frontier: the lower hull of (throughput, power) and the least-energy limit', () => {
    const p = a40({ stepMw: 0 });
    // 125 and 150 W lie above the chord 100→175 W; 275 W above the chord 250→300 W.
    assert.deepEqual(limitsW(p.frontier), [100, 175, 200, 225, 250, 300]);
    assert.equal(p.frontier[p.minEnergyVertex].powerLimitMw, 200_000); // 715.5 kJ/epoch
    near(energyPerUnitMj(p.frontier[p.minEnergyVertex]) / 1e6, 715.5413523354694);
    // non-dominated: nothing slower than 200 W (slower and more energy per epoch)
    assert.deepEqual(limitsW(p.efficient), [200, 225, 250, 275, 300]);
  });

  it('picks deterministically among several datasets/optimizers and says so', () => {
    const csv = A40_RESNET50_B128_CSV + 'imagenet,resnet50,128,adam,300,3000,250\nimagenet,resnet50,128,adam,200,3500,180\n';
    const p = parseZeusProfile(csv, 'x', { workload: 'resnet50', batch: 128 });
    assert.match(p.note ?? '', /imagenet\/adadelta, imagenet\/adam.*using imagenet\/adadelta/);
    const q = parseZeusProfile(csv, 'x', { workload: 'resnet50', batch: 128, optimizer: 'adam' });
    assert.deepEqual(limitsW(q.measured), [200, 300]);
    assert.equal(q.note, undefined);
  });

  it('says which batch sizes exist when the selection matches nothing', () => {
    assert.throws(() => parseZeusProfile(A40_RESNET50_B128_CSV, 'x', { workload: 'resnet50', batch: 32 }), (e: unknown) => e instanceof ProfileError && /batch sizes for resnet50: 128, 64/.test(e.message));
    assert.throws(() => parseZeusProfile('a,b\n1,2\n', 'x', { workload: 'r', batch: 1 }), /no "dataset" column/);
  });

  it('loads live measurements: windows at one limit are pooled', () => {
    const p = profileFromMeasurements('live', 'step', [
      { powerLimitMw: 300_000, elapsedMs: 10_000, energyJ: 2_500, units: 40 },
      { powerLimitMw: 300_000, elapsedMs: 10_000, energyJ: 2_300, units: 40 },
      { powerLimitMw: 200_000, elapsedMs: 12_000, energyJ: 2_160, units: 40 },
    ]);
    assert.deepEqual(limitsW(p.measured), [200, 300]);
    near(p.maxPoint.avgPowerMw, 240_000); // 4800 J / 20 s
    near(p.maxPoint.unitsPerS, 4); // 80 steps / 20 s
    near(p.measured[0].avgPowerMw, 180_000);
    assert.equal(p.unit, 'step');
    assert.throws(() => profileFromMeasurements('live', 'step', [{ powerLimitMw: 1, elapsedMs: 0, energyJ: 1, units: 1 }]), ProfileError);
    assert.throws(() => buildProfile('x', 'epoch', []), ProfileError);
  });
});
