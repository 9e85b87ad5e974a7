import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobRows } from '../../../webview/model/jobRows';
import { SHOWN_DECISIONS } from '../../../agent/protocol/jobOutcome';
import type { DistributedRunSummary } from '../../../agent/protocol/messages';

const base: DistributedRunSummary = { jobId: 'j', worldSize: 2, nodeRank: 0, nodeCount: 2, localWorldSize: 1, coordinator: true, state: 'coordinated', decisions: [] };

describe('dashboard: a distributed job', () => {
  it('the latest decisions first, at most a table\'s worth', () => {
    const decisions = Array.from({ length: 30 }, (_, i) => ({ decisionId: i + 1, step: 50 * (i + 1), powerLimitMw: 300_000 - i * 1000, kind: (i < 5 ? 'profile' : 'control') as 'profile' | 'control', applied: i % 7 !== 0, atMs: i }));
    const rows = jobRows({ ...base, decisions }, 10);
    assert.equal(rows.decisions.length, SHOWN_DECISIONS);
    assert.deepEqual(rows.decisions[0], ['30', '1500', '271', 'carbon period', 'applied']);
    assert.deepEqual(rows.decisions.at(-1), ['19', '950', '282', 'carbon period', 'applied']);
  });

  it('one row per node on the deciding node; none elsewhere', () => {
    const job = { energyJ: 7.2e6, carbonG: 100, unitsDone: 1, nodes: [{ nodeRank: 0, ranks: 1, energyJ: 3.6e6, carbonG: 50, status: 'permitted' as const }, { nodeRank: 1, ranks: 1, energyJ: 3.6e6, carbonG: 50, status: 'advise' as const }] };
    assert.deepEqual(jobRows({ ...base, job }, 10).nodes, [
      ['0', '1', '1.00', '50.0', 'applied'],
      ['1', '1', '1.00', '50.0', 'advise only'],
    ]);
    assert.equal(jobRows({ ...base, job }, 10).lines.length, 2);
    assert.deepEqual(jobRows({ ...base, coordinator: false, nodeRank: 1 }, 10).nodes, []);
  });
});
