/** A node agent's part in a distributed job (agent/runs/distributed.ts), with a fake run and decider. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expectedNodeRank, FollowedProvider, NodeCoordination, type CoordinatedRun, type JobDecider, type JobRound } from '../../../agent/runs/distributed';
import { ReporterRefusal } from '../../../agent/runs/reporterServer';
import type { JobDecision, JobNode, JoinParams, ReporterNodeInfo } from '../../../agent/protocol/reporter';
import type { CarbonProvider } from '../../../agent/carbon/provider';
import { createLogger } from '../../../agent/log';
import { waitFor } from '../../contract/waitFor';

const A40: ReporterNodeInfo = { gpuModel: 'NVIDIA A40', gpuCount: 2, minLimitMw: 100_000, maxLimitMw: 300_000, control: 'permitted' };
const log = createLogger('test');

class FakeRun implements CoordinatedRun {
  readonly runId = 'run-x';
  following = false;
  energy = 0;
  info = A40;
  readonly applied: Array<{ limitMw: number; decision: JobDecision }> = [];
  readonly held: string[] = [];
  nodeInfo = async () => this.info;
  energyMj = () => this.energy;
  follow = () => void (this.following = true);
  applyLimit = async (limitMw: number, decision: JobDecision) => {
    this.applied.push({ limitMw, decision });
    return this.info.control === 'permitted' ? { applied: true, appliedMw: limitMw } : { applied: false, reason: this.info.reason };
  };
  holdMaximum = async (reason: string) => void this.held.push(reason);
}

class FakeDecider implements JobDecider {
  readonly rounds: JobRound[] = [];
  constructor(private readonly limits: Array<number | undefined>) {}
  round = async (r: JobRound) => {
    this.rounds.push(r);
    const mw = this.limits[this.rounds.length - 1];
    return mw === undefined ? undefined : { powerLimitMw: mw, kind: this.rounds.length === 1 ? ('profile' as const) : ('control' as const) };
  };
  intensityAt = async () => 200;
  totals = () => ({ energyJ: 1, carbonG: 2, unitsDone: 3 });
}

const nodes = (infos: ReporterNodeInfo[]): JobNode[] => infos.map((i, k) => ({ ...i, nodeRank: k, ranks: 1 }));
const place = (o: Partial<JoinParams> = {}): JoinParams => ({ jobId: 'j1', worldSize: 2, nodeRank: 0, nodeCount: 2, localWorldSize: 1, coordinator: true, syncEverySteps: 50, ...o });
const decision = (id: number, mw: number, validUntilMs = Date.now() + 60_000) => ({ step: id * 50, decisionId: id, powerLimitMw: mw, validUntilMs, kind: 'control' as const, intensityGPerKwh: 150 });

describe('NodeCoordination', () => {
  it('rank 0\'s node: refuses nodes with different GPUs, naming each node\'s; otherwise answers the cadence', async () => {
    const c = new NodeCoordination({ run: new FakeRun(), log, decider: () => new FakeDecider([]), syncEverySteps: 40, periodWallMs: 1000 });
    const h = c.handler();
    assert.throws(
      () => h.job({ jobId: 'j', worldSize: 3, nodes: nodes([A40, { ...A40, gpuModel: 'NVIDIA A100-SXM4-40GB', maxLimitMw: 400_000 }, A40]) }, { runId: 'r' }),
      (e: unknown) =>
        e instanceof ReporterRefusal &&
        /^the job's nodes have different GPUs \(nodes 0, 2: 2 × NVIDIA A40 \(100–300 W\); node 1: 2 × NVIDIA A100-SXM4-40GB \(100–400 W\)\)\. Chase gives every GPU of a job one power limit/.test(e.message),
    );
    assert.deepEqual(await h.job({ jobId: 'j', worldSize: 2, nodes: nodes([A40, A40]) }, { runId: 'r' }), { syncEverySteps: 40 });
  });

  it('rank 0\'s node: each round keeps every node\'s energy and carbon, and numbers its decisions with a validity', async () => {
    const run = new FakeRun();
    const decider = new FakeDecider([300_000, undefined, 250_000]);
    let now = 1_000_000;
    const c = new NodeCoordination({ run, log, decider: () => decider, syncEverySteps: 50, periodWallMs: 1000, now: () => now });
    const h = c.handler();
    await h.job({ jobId: 'j', worldSize: 2, nodes: nodes([A40, { ...A40, control: 'advise', reason: 'no permission' }]) }, { runId: 'r' });
    await h.join(place(), { runId: 'r' });
    const round = (step: number, e0: number, e1: number) => h.decide({ step, elapsedS: step / 10, units: step * 64, nodes: [{ energyMj: e0, status: 'permitted' }, { energyMj: e1, status: 'advise' }] }, { runId: 'r' });
    const first = await round(50, 3_600_000, 7_200_000);
    assert.deepEqual(first.decision, { decisionId: 1, powerLimitMw: 300_000, validUntilMs: 1_003_000, kind: 'profile', intensityGPerKwh: 200 });
    now += 500;
    assert.deepEqual(await round(100, 7_200_000, 10_800_000), { decision: null });
    now += 500;
    assert.equal((await round(150, 10_800_000, 14_400_000)).decision?.decisionId, 2);
    assert.deepEqual(
      decider.rounds.map((r) => [r.energyJ, r.unitsDone, r.elapsedMs]),
      [
        [10_800, 3200, 5000],
        [18_000, 6400, 10_000],
        [25_200, 9600, 15_000],
      ],
    );
    const job = c.summary!.job!;
    // 1 kWh and 2 kWh … at 200 g/kWh: per node, carbon of its energy
    assert.deepEqual(
      job.nodes.map((n) => [n.nodeRank, n.energyJ, Math.round(n.carbonG * 1000) / 1000, n.status]),
      [
        [0, 10_800, 0.6, 'permitted'],
        [1, 14_400, 0.8, 'advise'],
      ],
    );
    assert.equal(job.energyJ, 1, 'the job\'s totals are the decider\'s');
  });

  it('a follower: join makes the run follow; it applies broadcast decisions, records them in order, and accounts with their intensity', async () => {
    const run = new FakeRun();
    const followed = new FollowedProvider(fakeSource(), 60_000);
    const c = new NodeCoordination({ run, log, followed, syncEverySteps: 50, periodWallMs: 1000 });
    const h = c.handler();
    await assert.rejects(async () => h.apply(decision(1, 250_000), { runId: 'r' }), /this node is not coordinated \(it has not joined the job\)/);
    await h.join(place({ nodeRank: 1, coordinator: false }), { runId: 'r' });
    assert.ok(run.following);
    assert.deepEqual(await h.apply(decision(1, 250_000), { runId: 'r' }), { applied: true, appliedMw: 250_000 });
    await h.apply(decision(2, 200_000), { runId: 'r' });
    assert.deepEqual(
      c.summary!.decisions.map((d) => [d.decisionId, d.step, d.powerLimitMw, d.applied]),
      [
        [1, 50, 250_000, true],
        [2, 100, 200_000, true],
      ],
    );
    assert.equal((await followed.latest(Date.now())).intensityGPerKwh, 150);
    assert.equal(c.summary!.job, undefined, 'only rank 0\'s node holds the job');
    c.close();
  });

  it('refused: every node holds its maximum and says why; failed (a rank timed out): the same', async () => {
    const run = new FakeRun();
    const c = new NodeCoordination({ run, log, syncEverySteps: 50, periodWallMs: 1000 });
    await c.handler().join(place({ refused: 'mixed GPUs' }), { runId: 'r' });
    assert.deepEqual(run.held, ['mixed GPUs']);
    assert.equal(c.summary!.state, 'refused');
    const run2 = new FakeRun();
    const c2 = new NodeCoordination({ run: run2, log, syncEverySteps: 50, periodWallMs: 1000 });
    await c2.handler().join(place(), { runId: 'r' });
    await c2.handler().leave({ step: 300, error: 'the other ranks did not join a sync round within 60 s at step 300' }, { runId: 'r' });
    assert.equal(c2.summary!.state, 'failed');
    assert.match(run2.held[0], /the distributed job stopped coordinating: the other ranks did not join/);
    await assert.rejects(async () => c2.handler().apply(decision(3, 200_000), { runId: 'r' }), /not coordinated \(failed: the other ranks/);
    c2.close();
  });

  it('the lease: no heartbeat for its length puts the GPUs back; a later decision renews it', async () => {
    const run = new FakeRun();
    const c = new NodeCoordination({ run, log, syncEverySteps: 50, periodWallMs: 100, leasePeriods: 2 });
    const h = c.handler();
    await h.join(place({ nodeRank: 1, coordinator: false }), { runId: 'r' });
    await h.apply(decision(1, 200_000), { runId: 'r' });
    await waitFor(() => run.held.length > 0, 'the lease to lapse', 5000, 20);
    assert.match(run.held[0], /^the job's lease lapsed: no heartbeat from the job's ranks on this node for \d\.\d s \(2 carbon periods\)$/);
    assert.equal(c.summary!.state, 'lapsed');
    await h.apply(decision(2, 225_000), { runId: 'r' });
    assert.equal(c.summary!.state, 'coordinated');
    assert.equal(run.applied.at(-1)?.limitMw, 225_000);
    c.close();
  });

  it('the lease also lapses when the last decision is no longer valid, heartbeats or not', async () => {
    const run = new FakeRun();
    const c = new NodeCoordination({ run, log, syncEverySteps: 50, periodWallMs: 100, leasePeriods: 100 });
    const h = c.handler();
    await h.join(place({ nodeRank: 1, coordinator: false }), { runId: 'r' });
    await h.apply(decision(1, 200_000, Date.now() + 150), { runId: 'r' });
    const beat = setInterval(() => c.heartbeat(), 20);
    try {
      await waitFor(() => run.held.length > 0, 'the decision to lapse', 5000, 20);
    } finally {
      clearInterval(beat);
    }
    assert.match(run.held[0], /no new decision from rank 0's agent since the last one lapsed/);
    c.close();
  });
});

function fakeSource(): CarbonProvider & { calls: number } {
  const s = {
    calls: 0,
    info: { kind: 'static' as const, label: 'static', zone: 'XX', signal: 'average' as const, attribution: '' },
    periodMs: 3_600_000,
    latest: async (nowMs: number) => {
      s.calls++;
      return { timestampMs: nowMs, intensityGPerKwh: 999, fetchedAtMs: nowMs, stale: false };
    },
    history: async () => [],
    forecast: async () => undefined,
  };
  return s;
}

describe('FollowedProvider', () => {
  it('a reading waits for the first decision and takes its intensity: the source is never asked', async () => {
    const source = fakeSource();
    const p = new FollowedProvider(source, 60_000);
    const reading = p.latest(Date.now());
    p.follow(123);
    assert.equal((await reading).intensityGPerKwh, 123);
    assert.equal(source.calls, 0);
  });

  it('told it will not follow (or past its grace), it asks the source itself', async () => {
    const source = fakeSource();
    const p = new FollowedProvider(source, 60_000);
    const reading = p.latest(Date.now());
    p.own();
    assert.equal((await reading).intensityGPerKwh, 999);
    const late = new FollowedProvider(source, 50);
    assert.equal((await late.latest(Date.now())).intensityGPerKwh, 999);
    assert.equal(source.calls, 2);
  });
});

describe('expectedNodeRank', () => {
  it('reads the node rank of a job of several nodes from torchrun\'s, a launcher\'s or Slurm\'s variables', () => {
    assert.equal(expectedNodeRank({ WORLD_SIZE: '2', GROUP_RANK: '1' }), 1);
    assert.equal(expectedNodeRank({ WORLD_SIZE: '8', NODE_RANK: '0' }), 0);
    assert.equal(expectedNodeRank({ SLURM_NNODES: '4', SLURM_NODEID: '3' }), 3);
    assert.equal(expectedNodeRank({ WORLD_SIZE: '1', GROUP_RANK: '0' }), undefined);
    assert.equal(expectedNodeRank({ WORLD_SIZE: '2' }), undefined);
    assert.equal(expectedNodeRank({ WORLD_SIZE: '2', GROUP_RANK: '-1' }), undefined);
  });
});
