/**
 * A notebook cell's energy and carbon (`chase/energyBetween`) include chase.accounting.pue, like a
 * run's: the facility's energy is the GPUs' × PUE (accounting.ts facilityEnergyJ).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { energyBetween } from '../../../agent/server/energyTimeline';

const samples = [
  { atMs: 0, totalMj: 0 },
  { atMs: 1000, totalMj: 3_600_000 }, // 3.6 kJ = 1 Wh in the first second
  { atMs: 2000, totalMj: 7_200_000 },
];

test('energyBetween: PUE 1 is the GPUs\' own energy; PUE 1.25 scales energy and carbon alike', () => {
  const intensity = (t: number) => (t < 1000 ? 100 : 300);
  const one = energyBetween(samples, 0, 2000, intensity);
  assert.equal(one.energyJ, 7200);
  assert.ok(Math.abs(one.carbonG - (0.001 * 100 + 0.001 * 300)) < 1e-12);
  const more = energyBetween(samples, 0, 2000, intensity, 1.25);
  assert.equal(more.energyJ, 9000);
  assert.ok(Math.abs(more.carbonG - 1.25 * one.carbonG) < 1e-12);
  assert.equal(more.coveredMs, 2000);
});
