/**
 * Stored profiles and re-profiling on drift: the pure rules (drift detector, workload key, rows ⇄
 * profile), the HistoryStore adapter, and a Run on simulated GPUs that reuses, saves and — when the
 * job no longer matches its profile — measures it again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DriftDetector, MemoryProfileStore, historyProfileStore, profileOfRecords, profileRecords, throughputDrifted, workloadKeyOf } from '../../../agent/runs/profileStore';
import { Run } from '../../../agent/runs/run';
import { runJobEnv } from '../../../agent/runs/jobEnv';
import { RunCarbon } from '../../../agent/runs/runCarbon';
import { ReplayProvider } from '../../../agent/carbon/replay';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import { PowerLimitGuard } from '../../../agent/gpu/safety/guard';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import { HistoryStore } from '../../../agent/store/history';
import type { LimitMeasurement } from '../../../agent/profile/profile';
import { packageRoot } from '../../../agent/paths';
import { tempDir } from '../gpu/fakeNvml';
import { memoryLogger } from '../store/helpers';

const demo = join(packageRoot, 'sample-workspace', 'train_demo.py');

test('drift: more than 25 % off, either way; a stalled job drifts; no expectation never does', () => {
  assert.equal(throughputDrifted(10, 12.4), false);
  assert.equal(throughputDrifted(10, 7.6), false);
  assert.equal(throughputDrifted(10, 12.6), true);
  assert.equal(throughputDrifted(10, 7.4), true);
  assert.equal(throughputDrifted(10, 0), true);
  assert.equal(throughputDrifted(0, 5), false);
});

test('drift detector: fires on the 3rd consecutive drifted period only; an in-profile period resets the streak', () => {
  const d = new DriftDetector();
  assert.deepEqual([d.observe(10, 5), d.observe(10, 5), d.observe(10, 10), d.observe(10, 5), d.observe(10, 5)], [false, false, false, false, false]);
  assert.equal(d.consecutive, 2);
  assert.equal(d.observe(10, 20), true, '3 in a row (slower twice, then faster) is drift');
  assert.equal(d.consecutive, 0, 'and it starts counting again');
});

test('workload key: script name + a hash of the command line', () => {
  const k = workloadKeyOf('python3', ['train.py', '--epochs', '4']);
  assert.match(k, /^train\.py#[0-9a-f]{8}$/);
  assert.equal(workloadKeyOf('python3', ['train.py', '--epochs', '4']), k);
  assert.notEqual(workloadKeyOf('python3', ['train.py', '--epochs', '5']), k);
  assert.match(workloadKeyOf('/opt/bin/trainer', ['--fast']), /^trainer#/);
});

const windows: LimitMeasurement[] = [
  { powerLimitMw: 300_000, elapsedMs: 1000, energyJ: 250, units: 100 },
  { powerLimitMw: 200_000, elapsedMs: 1000, energyJ: 190, units: 90 },
  { powerLimitMw: 200_000, elapsedMs: 1000, energyJ: 190, units: 90 },
];

test('rows ⇄ profile: per-unit time and energy per limit, pooled; the profile built from them has the same rates', () => {
  const rows = profileRecords('NVIDIA A40', 'k', windows, 5);
  assert.equal(rows.length, 2);
  const r200 = rows.find((r) => r.powerLimitMw === 200_000)!;
  assert.ok(Math.abs(r200.epochMs - 1000 / 90) < 1e-9 && Math.abs(r200.energyJ - 190 / 90) < 1e-9);
  const p = profileOfRecords('x', rows)!;
  assert.ok(Math.abs(p.maxPoint.unitsPerS - 100) < 1e-9);
  assert.ok(Math.abs(p.maxPoint.avgPowerMw - 250_000) < 1e-6);
  assert.equal(profileOfRecords('x', []), undefined);
});

test('HistoryStore adapter: save then load per (GPU model, key); a re-profile replaces the old limits', () => {
  const store = HistoryStore.open({ path: join(tempDir('chase-prof-'), 'history.sqlite'), log: memoryLogger() });
  try {
    const ps = historyProfileStore(store, () => 1000);
    assert.equal(ps.load('NVIDIA A40', 'k'), undefined);
    ps.save('NVIDIA A40', 'k', windows);
    assert.deepEqual(ps.load('NVIDIA A40', 'k')!.measured.map((m) => m.powerLimitMw), [200_000, 300_000]);
    assert.equal(ps.load('NVIDIA A100', 'k'), undefined, 'another GPU model has its own profile');
    assert.equal(ps.load('NVIDIA A40', 'other'), undefined);
    ps.save('NVIDIA A40', 'k', [{ powerLimitMw: 300_000, elapsedMs: 1000, energyJ: 250, units: 50 }, { powerLimitMw: 250_000, elapsedMs: 1000, energyJ: 200, units: 45 }]);
    const p = ps.load('NVIDIA A40', 'k')!;
    assert.deepEqual(p.measured.map((m) => m.powerLimitMw), [250_000, 300_000], 'the 200 W row of the old profile is gone');
    assert.ok(Math.abs(p.maxPoint.unitsPerS - 50) < 1e-9);
  } finally {
    store.close();
  }
});

// ---- a Run on simulated GPUs ---------------------------------------------------------------------

async function simRun(profiles: MemoryProfileStore, args: string[], key = 'demo') {
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
  const log = memoryLogger();
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir('chase-prof-')), log });
  const lease = await guard.claim([backend.devices()[0].uuid], { runId: 'r', pid: process.pid });
  // the demo slows down with the simulated limit (as RunManager sets it up)
  const feed = backend.simulatedJob([0]);
  const run = new Run(
    {
      id: 'r',
      command: { file: 'python3', args: [demo, ...args], env: runJobEnv({ inherited: process.env, added: feed.env }) },
      gpuIndices: [0],
      budgetPct: 10,
      policy: 'default',
      workloadKey: key,
      profiler: { stepMw: 100_000, warmupMs: 200, windowMs: 600 },
      sampleMs: 100,
    },
    { backend, lease, carbon: new RunCarbon(ReplayProvider.create({ zone: 'GB', speed: 3600 })), log, profiles },
  );
  const summary = await run.start();
  feed.close();
  return { summary, log: log.lines.join('\n'), run };
}

test('a run saves its measured profile; the next run of the same workload on the same GPU model skips profiling', async () => {
  const profiles = new MemoryProfileStore();
  // Long enough (≥ 9 s) that the 5 profiling windows (~4 s) finish even on a loaded machine.
  const first = await simRun(profiles, ['--epochs', '1', '--steps', '900', '--step-ms', '10']);
  assert.equal(first.summary.exitCode, 0, first.log);
  assert.match(first.log, /profiled \d+ limits/);
  const saved = profiles.saved.get('NVIDIA A40 (simulated)\u0000demo');
  assert.ok(saved && saved.length >= 2, `saved under (GPU model, key): ${[...profiles.saved.keys()].join(', ')}`);
  assert.equal(first.run.reusedProfile, false);

  const second = await simRun(profiles, ['--epochs', '1', '--steps', '150', '--step-ms', '10']);
  assert.equal(second.summary.exitCode, 0, second.log);
  assert.match(second.log, /reusing the stored profile of workload "demo" on NVIDIA A40 \(simulated\)/);
  assert.doesNotMatch(second.log, /profiled \d+ limits/);
  assert.equal(second.run.reusedProfile, true);
  assert.ok(second.summary.baselineCarbonG !== undefined && second.summary.slowdownPct !== undefined, 'the stored profile gives the baseline from the start');
});

test('a stored profile the job no longer matches (> 25 % off for 3 periods) is discarded and measured again', async () => {
  const profiles = new MemoryProfileStore();
  // 10× the demo's real speed (~100 steps/s at 10 ms a step): every period is far off.
  profiles.save('NVIDIA A40 (simulated)', 'demo', [
    { powerLimitMw: 300_000, elapsedMs: 1000, energyJ: 250, units: 1000 },
    { powerLimitMw: 200_000, elapsedMs: 1000, energyJ: 180, units: 950 },
    { powerLimitMw: 100_000, elapsedMs: 1000, energyJ: 100, units: 600 },
  ]);
  const r = await simRun(profiles, ['--epochs', '1', '--steps', '700', '--step-ms', '10']);
  assert.equal(r.summary.exitCode, 0, r.log);
  assert.match(r.log, /reusing the stored profile/);
  assert.match(r.log, /more than 25 % off the profile's .* for 3 periods in a row .*profiling again/);
  assert.match(r.log, /profiled \d+ limits/);
  const resaved = profiles.load('NVIDIA A40 (simulated)', 'demo')!;
  assert.ok(resaved.maxPoint.unitsPerS < 300, `the re-measured profile replaced the stored one (max ${resaved.maxPoint.unitsPerS.toFixed(1)}/s)`);
});
