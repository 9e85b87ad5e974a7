/**
 * The reporter's distributed side, with real torch.distributed (Debian's torch 1.13, gloo on
 * 127.0.0.1) and one ReporterServer per "node" whose handler is a small in-test stand-in of a node
 * agent: it answers the node's GPUs, a deterministic energy per round, a new decision every few
 * rounds (rank 0's node only), and records every request. The agent's own handler is tested in
 * the contract tests; this file pins the job side: agreement, aggregation, broadcast, refusal,
 * timeouts.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reporterPythonDir, type ReporterEnv } from '../../agent/runs/reporterServer';
import { requirePythonModules } from '../systemPython';
import { A40, freePort, placeRanks, runRanks, StandInNode, type ProcessResult, type RankPlace } from '../distributedJob';

interface RankReport {
  rank: number;
  steps: number;
  coordination: { state: string; nodeRank: number; nodeCount: number; leader: boolean; jobId: string; syncEverySteps: number; rounds: number; error: string | null };
  decisions: Array<{ step: number; decisionId: number; powerLimitMw: number; validUntilMs: number; kind: string; intensityGPerKwh: number }>;
  rounds: Array<{ step: number; units: number; elapsedS: number; energyMj?: number; sumUnits: number; maxElapsedS: number; nodeEnergyMj: number[] }>;
}

interface JobRun {
  nodes: StandInNode[];
  results: ProcessResult[];
  reports: RankReport[];
}

/** Starts one stand-in per node, runs the ranks of the sample job against them, reads each rank's report. */
async function runJob(places: RankPlace[], args: string[], o: { nodes?: StandInNode[]; extraEnv?: (p: RankPlace) => NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<JobRun> {
  const nodeCount = Math.max(...places.map((p) => p.nodeRank)) + 1;
  const nodes = o.nodes ?? Array.from({ length: nodeCount }, (_, k) => new StandInNode(k));
  const envs: ReporterEnv[] = [];
  for (const node of nodes) {
    await node.server.start('unix');
    envs.push(node.server.register(`run-node-${node.nodeRank}`, { handler: node.handler() }));
  }
  const dir = mkdtempSync(join(tmpdir(), 'chase-dist-'));
  const port = await freePort();
  try {
    const results = await runRanks(places, port, [...args, '--timeout-s', '30', '--report-json', join(dir, 'rank{rank}.json')], (p) => ({ ...envs[p.nodeRank], ...o.extraEnv?.(p) }), o.timeoutMs);
    const reports = places.map((p) => {
      try {
        return JSON.parse(readFileSync(join(dir, `rank${p.rank}.json`), 'utf8')) as RankReport;
      } catch {
        assert.fail(`rank ${p.rank} wrote no report: exit ${results[p.rank].status}\n${results[p.rank].stderr.slice(-3000)}`);
      }
    });
    return { nodes, results, reports };
  } finally {
    for (const node of nodes) await node.server.stop();
  }
}

function assertAllExited(results: ProcessResult[]): void {
  results.forEach((r, rank) => assert.equal(r.status, 0, `rank ${rank} exited with ${r.status ?? r.signal}:\n${r.stderr.slice(-3000)}`));
}

/** Every rank and every node agent saw the same decisions, at the same steps, in the same order. */
function assertOneDecisionSequence(job: JobRun): void {
  const expected = job.reports[0].decisions;
  assert.ok(expected.length >= 2, `at least two decisions were made: ${JSON.stringify(expected)}`);
  for (const r of job.reports) assert.deepEqual(r.decisions, expected, `rank ${r.rank} received the same decisions at the same steps`);
  for (const node of job.nodes) assert.deepEqual(node.applied, expected, `node ${node.nodeRank}'s agent applied the same decisions at the same steps`);
  assert.deepEqual(
    expected.map((d) => d.decisionId),
    expected.map((_, i) => i + 1),
  );
}

/** SUM of units and of each node's energy, MAX of elapsed time: recomputed from every rank's own inputs. */
function assertAggregation(job: JobRun, places: RankPlace[]): void {
  const coordinator = job.nodes[0];
  const rounds = job.reports[0].rounds;
  assert.equal(coordinator.decides.length, rounds.length, 'rank 0 asked its agent once per round');
  for (const [i, round] of rounds.entries()) {
    const all = job.reports.map((r) => r.rounds[i]);
    assert.ok(all.every((x) => x.step === round.step), `round ${i} happened at step ${round.step} on every rank`);
    const sumUnits = all.reduce((s, x) => s + x.units, 0);
    const maxElapsedS = Math.max(...all.map((x) => x.elapsedS));
    const nodeEnergy = job.nodes.map((n) => n.energyByStep.get(round.step));
    for (const x of all) {
      assert.equal(x.sumUnits, sumUnits);
      assert.equal(x.maxElapsedS, maxElapsedS);
      assert.deepEqual(x.nodeEnergyMj, nodeEnergy);
    }
    // only the leaders (local rank 0) contributed energy
    for (const p of places) assert.equal(job.reports[p.rank].rounds[i].energyMj !== undefined, p.localRank === 0, `rank ${p.rank} is its node's leader iff local rank 0`);
    const asked = coordinator.decides[i];
    assert.equal(asked.step, round.step);
    assert.equal(asked.units, sumUnits);
    assert.equal(asked.elapsedS, maxElapsedS);
    assert.deepEqual(
      asked.nodes,
      nodeEnergy.map((energyMj) => ({ energyMj, status: 'permitted' })),
    );
  }
  for (const node of job.nodes.slice(1)) assert.equal(node.decides.length, 0, `node ${node.nodeRank}'s agent was never asked to decide`);
}

describe('chase_reporter coordinates a distributed job (real gloo, stand-in node agents)', () => {
  before(() => requirePythonModules(['torch', 'torch.distributed'], ['python3-torch']));

  it('2 nodes × 1 rank: one decision sequence at the same steps everywhere; SUM/MAX aggregation; only rank 0 asks', async () => {
    const places = placeRanks(2, 1);
    const job = await runJob(places, ['--steps', '60', '--step-ms', '2']);
    assertAllExited(job.results);
    for (const r of job.reports) {
      assert.equal(r.coordination.state, 'on', `rank ${r.rank}: ${r.coordination.error}`);
      assert.equal(r.coordination.syncEverySteps, 10);
      assert.equal(r.coordination.rounds, 6);
      assert.equal(r.coordination.nodeCount, 2);
      assert.equal(r.coordination.nodeRank, r.rank);
    }
    assert.equal(job.reports[1].coordination.jobId, job.reports[0].coordination.jobId);
    assert.deepEqual(
      job.reports[0].decisions.map((d) => d.step),
      [10, 30, 50],
    );
    assertOneDecisionSequence(job);
    assertAggregation(job, places);
    assert.equal(job.nodes[0].jobs.length, 1, 'rank 0 described the job to its agent once');
    assert.deepEqual(
      job.nodes.map((n) => n.joins.map((j) => [j.nodeRank, j.nodeCount, j.coordinator, j.worldSize, j.localWorldSize, j.refused])),
      [[[0, 2, true, 2, 1, undefined]], [[1, 2, false, 2, 1, undefined]]],
    );
  });

  it('3 nodes × 1 rank: the same, with three agents', async () => {
    const places = placeRanks(3, 1);
    const job = await runJob(places, ['--steps', '40', '--step-ms', '2']);
    assertAllExited(job.results);
    assertOneDecisionSequence(job);
    assertAggregation(job, places);
  });

  it('2 nodes × 2 ranks: the ranks sharing an agent form a node; only its local rank 0 talks to the agent', async () => {
    const places = placeRanks(2, 2);
    const job = await runJob(places, ['--steps', '40', '--step-ms', '2']);
    assertAllExited(job.results);
    assert.deepEqual(
      job.reports.map((r) => [r.coordination.nodeRank, r.coordination.leader]),
      [[0, true], [0, false], [1, true], [1, false]],
    );
    assertOneDecisionSequence(job);
    assertAggregation(job, places);
    assert.deepEqual(job.nodes[1].joins.map((j) => j.localWorldSize), [2]);
  });

  it('mixed GPU models: refused once by rank 0\'s agent; every node is told why; nobody syncs', async () => {
    const places = placeRanks(2, 1);
    const nodes = [new StandInNode(0), new StandInNode(1, { ...A40, gpuModel: 'NVIDIA A100-SXM4-40GB', maxLimitMw: 400_000 })];
    const job = await runJob(places, ['--steps', '30', '--step-ms', '1'], { nodes });
    assertAllExited(job.results);
    for (const r of job.reports) {
      assert.equal(r.coordination.state, 'refused');
      assert.match(r.coordination.error ?? '', /mixed GPU models across nodes: NVIDIA A40 100000-300000 \/ NVIDIA A100-SXM4-40GB 100000-400000/);
      assert.deepEqual(r.decisions, []);
    }
    for (const n of nodes) {
      assert.equal(n.joins.length, 1);
      assert.match(n.joins[0].refused ?? '', /mixed GPU models/);
      assert.equal(n.decides.length + n.applied.length, 0);
    }
    assert.match(job.results[0].stderr, /chase_reporter: the distributed job is not coordinated: mixed GPU models/);
  });

  it('a rank outside Chase: nobody coordinates (each node decides alone), rank 0 says why, no wait', async () => {
    const places = placeRanks(2, 1);
    const job = await runJob(places, ['--steps', '20', '--step-ms', '1'], { extraEnv: (p) => (p.rank === 1 ? { CHASE_REPORTER: '', CHASE_RUN_TOKEN: '', PYTHONPATH: reporterPythonDir } : {}), nodes: [new StandInNode(0)] });
    assertAllExited(job.results);
    assert.deepEqual(
      job.reports.map((r) => r.coordination.state),
      ['off', 'off'],
    );
    assert.match(job.results[0].stderr, /not coordinated: 1 of 2 ranks do not run under a Chase agent/);
    assert.equal(job.nodes[0].joins.length, 0);
  });

  it('uneven step counts: the rank still stepping gets a timeout error, not a hang; its agent is told', async () => {
    const places = placeRanks(2, 1);
    const dir = mkdtempSync(join(tmpdir(), 'chase-uneven-'));
    const doneFile = join(dir, 'rank0-done');
    // rank 1 stops stepping after step 25 (and stays alive until rank 0 is done); rank 0 goes on to 60
    const nodes = [new StandInNode(0), new StandInNode(1)];
    const started = Date.now();
    const jobPromise = runJob(places, ['--steps', '60', '--step-ms', '2', '--no-ddp', '--stop-rank', '1', '--stop-at', '25', '--wait-file', doneFile], {
      nodes,
      extraEnv: () => ({ CHASE_SYNC_TIMEOUT_S: '2' }),
    });
    void waitForRank0AndRelease(nodes[0], doneFile);
    const job = await jobPromise;
    assertAllExited(job.results);
    assert.ok(Date.now() - started < 45_000, 'bounded by the sync timeout, not the job\'s 120 s');
    const r0 = job.reports[0];
    assert.equal(r0.steps, 60, 'rank 0 trained on');
    assert.equal(r0.coordination.state, 'failed');
    assert.match(job.results[0].stderr, /chase_reporter: rank 0: coordination of the distributed job stopped: the other ranks did not join a sync round within 2 s at step 30 \(gloo: .*\)\. Every rank must call chase_reporter\.step\(\) once per optimizer step/);
    assert.equal(nodes[0].leaves.length, 1);
    assert.match(nodes[0].leaves[0].error, /did not join a sync round within 2 s at step 30/);
    assert.equal(job.reports[1].steps, 25);
  });
});

/** Releases the stopped rank once rank 0 has left coordination (its agent got `leave`) — a condition, not a delay. */
async function waitForRank0AndRelease(node0: StandInNode, doneFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (node0.leaves.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  writeFileSync(doneFile, 'done');
}
