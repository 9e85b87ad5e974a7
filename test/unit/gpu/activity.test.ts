import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';

test('simulated GPUs: activity (utilization × SM clock) follows throughput, so it can stand in for progress', async () => {
  const sim = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1, now: () => 0 });
  const atMax = sim.activity(0);
  assert.equal(atMax, 1740);
  await sim.setPowerLimit(0, 150_000);
  const capped = sim.activity(0);
  // A40 ResNet-50 b128: 3739.5 s/epoch at 300 W, 6147.5 s at 150 W → activity in the same ratio.
  assert.ok(Math.abs(capped / atMax - 3739.5 / 6147.5) < 0.01, `${capped} vs ${atMax}`);
});
