import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decisionText, jobHeadline, jobLines, nodeText } from '../../../agent/protocol/jobOutcome';
import type { DistributedRunSummary } from '../../../agent/protocol/messages';

const follower: DistributedRunSummary = { jobId: '4242', worldSize: 8, nodeRank: 1, nodeCount: 2, localWorldSize: 4, coordinator: false, state: 'coordinated', decisions: [] };
const coordinator: DistributedRunSummary = {
  ...follower,
  nodeRank: 0,
  coordinator: true,
  decisions: [{ decisionId: 1, step: 50, powerLimitMw: 300_000, kind: 'profile', applied: true, atMs: 1 }],
  job: {
    energyJ: 2 * 3.6e6,
    carbonG: 250,
    baselineCarbonG: 290,
    savedCarbonG: 40,
    slowdownPct: 2.4,
    unitsDone: 1000,
    nodes: [
      { nodeRank: 0, ranks: 4, energyJ: 3.6e6, carbonG: 125, status: 'permitted' },
      { nodeRank: 1, ranks: 4, energyJ: 3.6e6, carbonG: 125, status: 'advise', advise: 'no permission to set power limits' },
    ],
  },
};

describe('distributed job wording (task terminal, CLI, dashboard)', () => {
  it('names the job, its ranks and nodes, and this node\'s part', () => {
    assert.equal(jobHeadline(follower), "job 4242: 8 ranks on 2 nodes; this is node 1 (4 ranks), following rank 0's decisions");
    assert.equal(jobHeadline(coordinator), "job 4242: 8 ranks on 2 nodes; this is node 0 (4 ranks), deciding for the job (rank 0's node)");
    assert.equal(jobHeadline({ ...follower, state: 'refused', reason: 'mixed GPU models across nodes' }), 'job 4242: 8 ranks on 2 nodes; this is node 1 (4 ranks), not coordinated (refused): mixed GPU models across nodes');
  });

  it('reads a decision with its step, limit and whether it was applied', () => {
    assert.equal(decisionText({ decisionId: 3, step: 150, powerLimitMw: 225_000, kind: 'control', applied: false, atMs: 0 }), 'decision 3 at step 150: 225 W, advised only');
    assert.equal(decisionText(coordinator.decisions[0]), 'decision 1 at step 50: 300 W (profiling), applied');
  });

  it('the deciding node adds the whole job and each node (a node that only advises says why)', () => {
    assert.deepEqual(jobLines(coordinator, 2.5), [
      jobHeadline(coordinator),
      'whole job: 2.00 kWh, 250 gCO₂ — saved 13.8 % (40.0 g) vs max power, slowdown 2.4 % of 2.5 % budget',
      'node 0: 4 ranks, 1.00 kWh, 125 gCO₂, limits applied',
      'node 1: 4 ranks, 1.00 kWh, 125 gCO₂, advise only — no permission to set power limits',
    ]);
    assert.deepEqual(jobLines(follower, 2.5), [jobHeadline(follower)]);
    assert.equal(nodeText({ nodeRank: 2, ranks: 1, energyJ: 0, carbonG: 0, status: 'unreachable' }), 'node 2: 1 rank, 0.00 kWh, 0.00 gCO₂, not answering');
  });
});
