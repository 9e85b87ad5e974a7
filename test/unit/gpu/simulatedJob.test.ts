/**
 * The simulated backend's job feed (GpuBackend.simulatedJob): the file a simulated job
 * (sample-workspace/train_demo.py) reads to follow its GPUs' speed — 1 at the maximum limit, the
 * A40 profile's ratio below it, the slowest of the job's GPUs — rewritten as limits change, and
 * removed when the feed is closed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { pointAtLimit } from '../../../agent/profile/profile';
import { loadDefaultProfile } from '../../../agent/profile/zeus';

test('the feed follows the slowest of the job\'s GPUs, and is gone once closed', async () => {
  const profile = loadDefaultProfile();
  const backend = new SimulatedBackend({ profile, count: 3 });
  const feed = backend.simulatedJob([0, 1]);
  const file = feed.env.CHASE_SIM_THROUGHPUT_FILE;
  const read = () => JSON.parse(readFileSync(file, 'utf8')) as { relativeThroughput: number; powerLimitMw: number };
  assert.deepEqual(read(), { relativeThroughput: 1, powerLimitMw: 300_000 });
  await backend.setPowerLimit(1, 150_000);
  const expected = pointAtLimit(profile, 150_000).unitsPerS / pointAtLimit(profile, 300_000).unitsPerS;
  assert.ok(Math.abs(read().relativeThroughput - expected) < 1e-12 && expected < 0.7, `GPU 1 at 150 W sets the pace: ${read().relativeThroughput}`);
  assert.equal(read().powerLimitMw, 150_000);
  backend.setPowerLimitSync(2, 100_000);
  assert.equal(read().powerLimitMw, 150_000, 'another job\'s GPU does not count');
  backend.setPowerLimitSync(1, 300_000);
  assert.equal(read().relativeThroughput, 1, 'restored: full speed again');
  feed.close();
  assert.equal(existsSync(file), false);
  backend.setPowerLimitSync(0, 200_000); // nothing to write to any more
  assert.equal(existsSync(file), false);
});

test('an unknown GPU is refused before anything is written', () => {
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
  assert.throws(() => backend.simulatedJob([3]), /No simulated GPU with index 3/);
});
