/**
 * A Run that is one node's part of a distributed job (run.ts with distributed.ts): the reporter's
 * requests driven directly, a simulated GPU behind a recording lease, a counting carbon source.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Run } from '../../../agent/runs/run';
import { RunCarbon } from '../../../agent/runs/runCarbon';
import { FollowedProvider, lateHandler, syncTimeoutMs } from '../../../agent/runs/distributed';
import { ReporterRefusal, type ReporterHandler } from '../../../agent/runs/reporterServer';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import type { Logger } from '../../../agent/log';
import { waitFor } from '../../contract/waitFor';
import { fakeCarbon, fakeLease } from './fakes';

const log: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const peer = { runId: 'r' };

function distributedRun(t: TestContext, o: { followed?: boolean; now?: () => number } = {}) {
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
  const lease = fakeLease();
  const source = fakeCarbon(() => 250);
  const followed = o.followed ? new FollowedProvider(source, 60_000) : undefined;
  const decided: number[] = [];
  const run = new Run(
    {
      id: 'r',
      command: { file: process.execPath, args: ['-e', 'setInterval(() => undefined, 1000)'] },
      gpuIndices: [0],
      budgetPct: 10,
      policy: 'default',
      sampleMs: 20,
      profiler: { warmupMs: 100, windowMs: 200 },
      distributed: { joinGraceMs: 60_000 },
    },
    { backend, lease, carbon: new RunCarbon(followed ?? source), ...(followed ? { followed } : {}), ...(o.now ? { now: o.now } : {}), log, syncEverySteps: 25, onDecision: (d) => decided.push(d.powerLimitMw) },
  );
  // stopped whatever the test's outcome: a failed assertion must not leave the job running
  t.after(() => run.stop(100));
  return { run, lease, source, decided, handler: run.coordination.handler() };
}

const place = { jobId: 'job-1', worldSize: 2, nodeCount: 2, localWorldSize: 1, syncEverySteps: 25 };

test('a follower node: waits for rank 0\'s first decision, applies the broadcast limits, and never asks the carbon source', async (t) => {
  const { run, lease, source, decided, handler } = distributedRun(t, { followed: true });
  const finished = run.start();
  await run.started;
  run.reportSteps(10, 320);
  // several ticks with progress: a run on its own would have set its first profiling limit by now
  await waitFor(() => (run.energyCounters[0].lastMj ?? 0) > (run.energyCounters[0].firstMj ?? 0), 'the run to sample its GPU a few times', 5000);
  assert.deepEqual(lease.set, []);
  await handler.join({ ...place, nodeRank: 1, coordinator: false }, peer);
  const r = await handler.apply({ step: 25, decisionId: 1, powerLimitMw: 200_000, validUntilMs: Date.now() + 60_000, kind: 'profile', intensityGPerKwh: 123 }, peer);
  assert.deepEqual(r, { applied: true, appliedMw: 200_000 });
  assert.deepEqual(lease.set, [200_000]);
  await waitFor(() => run.summary.carbonG > 0, 'carbon accounted at the followed intensity', 5000);
  // its carbon is at rank 0's intensity
  assert.ok(Math.abs(run.summary.carbonG - (run.summary.energyJ / 3.6e6) * 123) < 1e-3 * run.summary.carbonG + 1e-9);
  const d = run.summary.distributed!;
  assert.deepEqual([d.state, d.nodeRank, d.coordinator, d.decisions.map((x) => [x.decisionId, x.step, x.powerLimitMw, x.applied])], ['coordinated', 1, false, [[1, 25, 200_000, true]]]);
  run.stop(100);
  await finished;
  assert.equal(source.calls.latest + source.calls.history, 0, 'the follower never asked the carbon source');
  assert.deepEqual(decided, [], 'it made no decision of its own');
  assert.equal(lease.released, 1);
});

test('rank 0\'s node: its controller decides for the job on the job\'s aggregates; decisions are numbered and carry the intensity', async (t) => {
  // the job's clock: each sync round is 50 ms after the one before (no waiting: the test moves it)
  let clock = Date.parse('2026-03-10T09:00:00Z');
  const { run, lease, source, handler } = distributedRun(t, { now: () => clock });
  const finished = run.start();
  await run.started;
  // before its ranks join, a node of a distributed job does not profile alone (it would throttle one node of the job)
  run.reportSteps(10, 320);
  await waitFor(() => (run.energyCounters[0].lastMj ?? 0) > (run.energyCounters[0].firstMj ?? 0), 'the run to sample its GPU a few times', 5000);
  assert.deepEqual(lease.set, []);
  const info = await handler.node({}, peer);
  assert.equal(info.control, 'permitted');
  const nodes = [0, 1].map((nodeRank) => ({ ...info, nodeRank, ranks: 1 }));
  assert.deepEqual(await handler.job({ jobId: 'job-1', worldSize: 2, nodes }, peer), { syncEverySteps: 25 });
  await handler.join({ ...place, nodeRank: 0, coordinator: true }, peer);
  const decisions = [];
  // rounds of the whole job: 2 nodes at ~250 W each, 1000 samples/s over both
  for (let k = 1; decisions.length < 3 && k < 1000; k++) {
    clock += 50;
    const elapsedS = (k * 50) / 1000;
    const r = await handler.decide({ step: k * 25, elapsedS, units: elapsedS * 1000, nodes: [0, 1].map(() => ({ energyMj: elapsedS * 250_000, status: 'permitted' as const })) }, peer);
    if (r.decision) decisions.push(r.decision);
  }
  assert.deepEqual(decisions.map((d) => d.decisionId), [1, 2, 3]);
  assert.deepEqual(decisions.map((d) => d.kind), ['profile', 'profile', 'profile']);
  assert.equal(decisions[0].powerLimitMw, 300_000, 'profiling starts at the maximum');
  for (const d of decisions) assert.equal(d.intensityGPerKwh, 250);
  // rank 0's own GPUs moved with the job's decisions (the controller applied them)
  assert.deepEqual(lease.set, decisions.map((d) => d.powerLimitMw));
  assert.ok(source.calls.latest <= 1, 'one reading per carbon period');
  const job = run.summary.distributed!.job!;
  assert.ok(job.energyJ > 0 && job.nodes.length === 2);
  run.stop(100);
  await finished;
});

test('lateHandler refuses until the run exists, then forwards; syncTimeoutMs reads CHASE_SYNC_TIMEOUT_S', async (t) => {
  const late: { target?: ReporterHandler } = {};
  const h = lateHandler(() => late.target);
  assert.throws(() => h.energy({ step: 1 }, peer), (e: unknown) => e instanceof ReporterRefusal && /not ready/.test(e.message));
  const { run } = distributedRun(t);
  late.target = run.coordination.handler();
  await assert.rejects(async () => h.apply({ step: 1, decisionId: 1, powerLimitMw: 1, validUntilMs: 0, kind: 'control', intensityGPerKwh: 1 }, peer), /not coordinated \(it has not joined the job\)/);
  assert.equal(syncTimeoutMs({}), 60_000);
  assert.equal(syncTimeoutMs({ CHASE_SYNC_TIMEOUT_S: '5' }), 5_000);
  assert.equal(syncTimeoutMs({ CHASE_SYNC_TIMEOUT_S: 'soon' }), 60_000);
});
