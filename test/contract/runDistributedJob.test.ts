/**
 * Issue 15's Contract, from outside: a distributed job on 127.0.0.1, each "node" its own
 * `chase-agent run` (the built dist/agent.js, simulated GPUs, its own state and claims folders), each
 * rank started with the env:// variables torchrun sets (Debian's torchrun fails on Python 3.11: see
 * test/distributedJob.ts) and a real gloo rendezvous in /usr/bin/python3.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgentCli, type CliResult } from './agentProcess';
import { SYSTEM_PYTHON } from '../systemPython';
import { freePort, placeRanks, rankEnv, trainDistributed } from '../distributedJob';
import { FakeApi, HOUR, iso, ok } from '../unit/carbon/fakeApi';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState, type FakeError, type FakeGpu } from '../unit/gpu/fakeNvml';

/** The Contract's command line, per node. */
const CONTRACT_ARGS = ['run', '--simulate', '--speed', '3600', '--warmup-s', '1', '--window-s', '2', '--budget-pct', '10', '--json'];

interface NodeRun extends CliResult {
  /** The node agent's CHASE_STATE_DIR (its history). */
  stateDir: string;
  json: {
    exitCode: number | null;
    energyJ: number;
    carbonG: number;
    state: string;
    decisions?: Array<{ decisionId: number; step: number; powerLimitMw: number; kind: string; applied: boolean }>;
    distributed?: { worldSize: number; nodeRank: number; jobId: string; nodeCount: number; coordinator: boolean; state: string; reason?: string; job?: { energyJ: number; nodes: Array<{ nodeRank: number; energyJ: number; status: string; advise?: string }> } };
  };
}

interface JobOptions {
  /** Options after the Contract's (which include --simulate unless `simulated` says no for that node). */
  agentArgs?: (node: number) => string[];
  /** Whether the node's GPUs are simulated (default); else its env must load the fake NVML library. */
  simulated?: (node: number) => boolean;
  env?: (node: number) => NodeJS.ProcessEnv;
  trainArgs: string[];
  /** Runs `then` once, when `when` first holds for that node's output. */
  onOutput?: (node: number) => { when: (out: { stdout: string; stderr: string }) => boolean; then: () => void } | undefined;
  /** A signal for that node's agent, sent when `when` first holds for its output. */
  signal?: (node: number) => { name: NodeJS.Signals; when: (out: { stdout: string; stderr: string }) => boolean } | undefined;
}

/** Runs one agent per node, one rank per node, all at once; each node's agent args, env and job args may differ. */
async function runJob(nodes: number, o: JobOptions): Promise<NodeRun[]> {
  const port = await freePort();
  const stateDirs = placeRanks(nodes, 1).map((p) => mkdtempSync(join(tmpdir(), `chase-job-state${p.nodeRank}-`)));
  const results = await Promise.all(
    placeRanks(nodes, 1).map((p) =>
      runAgentCli(
        [...CONTRACT_ARGS.filter((a) => a !== '--simulate' || (o.simulated?.(p.nodeRank) ?? true)), ...(o.agentArgs?.(p.nodeRank) ?? []), '--', SYSTEM_PYTHON, trainDistributed, ...o.trainArgs],
        {
          CHASE_STATE_DIR: stateDirs[p.nodeRank],
          CHASE_CLAIMS_DIR: mkdtempSync(join(tmpdir(), `chase-job-claims${p.nodeRank}-`)),
          CHASE_SYNC_TIMEOUT_S: '20',
          ...rankEnv(p, port),
          ...o.env?.(p.nodeRank),
        },
        { timeoutMs: 120_000, ...(o.onOutput?.(p.nodeRank) ? { onOutput: o.onOutput(p.nodeRank) } : {}), ...(o.signal?.(p.nodeRank) ? { signal: o.signal(p.nodeRank) } : {}) },
      ),
    ),
  );
  return results.map((r, node) => {
    const stateDir = stateDirs[node];
    if (o.signal?.(node)?.name === 'SIGKILL') return { ...r, stateDir, json: undefined as unknown as NodeRun['json'] };
    const last = r.stdout.trim().split('\n').pop() ?? '';
    let json: NodeRun['json'];
    try {
      json = JSON.parse(last) as NodeRun['json'];
    } catch {
      assert.fail(`node ${node}: no JSON summary (exit ${r.code}); stderr:\n${r.stderr.slice(-3000)}`);
    }
    return { ...r, stateDir, json };
  });
}

const sequence = (r: NodeRun) => (r.json.decisions ?? []).map((d) => [d.decisionId, d.step, d.powerLimitMw, d.kind]);

describe('a distributed job on two nodes (the Contract)', () => {
  let runs: NodeRun[];
  before(async () => {
    runs = await runJob(2, { trainArgs: ['--steps', '300', '--step-ms', '20', '--exit-code', '3'] });
  });

  it('passes the job\'s exit code on every node', () => {
    for (const r of runs) assert.equal(r.code, 3, r.stderr.slice(-2000));
    for (const r of runs) assert.equal(r.json.exitCode, 3);
  });

  it('every node prints one JSON summary with the same decision sequence, in the same order, at the same steps', () => {
    const [a, b] = runs;
    assert.ok((a.json.decisions ?? []).length >= 2, `rank 0 applied ${JSON.stringify(a.json.decisions)}; stderr:\n${a.stderr.slice(-2000)}`);
    assert.deepEqual(sequence(b), sequence(a));
    assert.deepEqual(a.json.decisions!.map((d) => d.decisionId), a.json.decisions!.map((_, k) => k + 1));
    for (const r of runs) for (const d of r.json.decisions!) assert.equal(d.applied, true);
  });

  it('the distributed object holds the world size, the node rank and one job id', () => {
    runs.forEach((r, node) => {
      const d = r.json.distributed!;
      assert.equal(d.worldSize, 2);
      assert.equal(d.nodeRank, node);
      assert.equal(d.state, 'coordinated');
      assert.equal(d.coordinator, node === 0);
    });
    assert.match(runs[0].json.distributed!.jobId, /^[\w.:-]+$/);
    assert.equal(runs[1].json.distributed!.jobId, runs[0].json.distributed!.jobId);
  });

  it('the single-machine fields stay; rank 0\'s node holds the job\'s totals and each node\'s energy', () => {
    for (const r of runs) {
      assert.equal(r.json.state, 'finished');
      assert.ok(r.json.energyJ > 0 && r.json.carbonG > 0);
    }
    const job = runs[0].json.distributed!.job!;
    assert.deepEqual(job.nodes.map((n) => n.nodeRank), [0, 1]);
    for (const n of job.nodes) assert.ok(n.energyJ > 0 && n.status === 'permitted');
    // the job's energy is the nodes' (as reported at the last round), not one node's
    assert.ok(Math.abs(job.energyJ - job.nodes.reduce((a, n) => a + n.energyJ, 0)) < 1e-6 * job.energyJ);
    assert.equal(runs[1].json.distributed!.job, undefined);
  });

  it('the history records the job once with its nodes: rank 0\'s node holds the job and each node, every node its own part', async () => {
    const recorded = await Promise.all(
      runs.map(async (r) => {
        const list = await runAgentCli(['runs', 'list', '--json'], { CHASE_STATE_DIR: r.stateDir });
        assert.equal(list.code, 0, list.stderr);
        return JSON.parse(list.stdout) as Array<{ status: string; meta?: { distributed?: { jobId: string; nodeRank: number; coordinator: boolean; decisions: number; job?: { energyJ: number; nodes: Array<{ nodeRank: number; energyJ: number }> } } } }>;
      }),
    );
    recorded.forEach((list, node) => {
      assert.equal(list.length, 1, `node ${node} records its part once`);
      const d = list[0].meta?.distributed;
      assert.ok(d, `node ${node}: no distributed part in ${JSON.stringify(list[0].meta)}`);
      assert.equal(d.jobId, runs[0].json.distributed!.jobId);
      assert.equal(d.nodeRank, node);
      assert.equal(d.decisions, runs[node].json.decisions!.length);
    });
    const job = recorded[0][0].meta!.distributed!.job!;
    assert.deepEqual(job, runs[0].json.distributed!.job, 'rank 0\'s record holds the job as its summary ended it');
    assert.deepEqual(job.nodes.map((n) => n.nodeRank), [0, 1]);
    assert.equal(recorded[1][0].meta!.distributed!.job, undefined, 'a follower does not record the job again');
  });
});

describe('one carbon-source call per decision for the whole job', () => {
  const TOKEN = 'em-distributed-key-4c2e';
  const apis: FakeApi[] = [];
  before(async () => {
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    for (let k = 0; k < 2; k++) {
      // Electricity Maps v3 shapes, as test/unit/carbon/electricityMaps.test.ts (docs: api.electricitymaps.com/v3)
      const api = await FakeApi.start();
      api.on('/v3/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 300 + k, datetime: iso(hour), updatedAt: iso(hour), isEstimated: false }));
      api.on('/v3/carbon-intensity/history', ok({ zone: 'DE', history: Array.from({ length: 24 }, (_, i) => ({ carbonIntensity: 200 + i, datetime: iso(hour - (24 - i) * HOUR) })) }));
      apis.push(api);
    }
  });
  after(async () => Promise.all(apis.map((a) => a.close())));

  it('rank 0\'s agent alone asks a keyed API (a counting stand-in); the follower accounts with the intensity rank 0 sent', async () => {
    const runs = await runJob(2, {
      agentArgs: (node) => ['--provider', 'electricitymaps', '--zone', 'DE', '--base-url', `${apis[node].url}/v3`],
      env: () => ({ CHASE_ELECTRICITYMAPS_TOKEN: TOKEN }),
      trainArgs: ['--steps', '200', '--step-ms', '20'],
    });
    for (const r of runs) assert.equal(r.code, 0, r.stderr.slice(-2000));
    const decisions = runs[0].json.decisions ?? [];
    assert.ok(decisions.length >= 1);
    assert.deepEqual(sequence(runs[1]), sequence(runs[0]));
    assert.equal(apis[1].requests.length, 0, `the follower asked: ${apis[1].requests.map((r) => r.path).join(', ')}`);
    const asked = apis[0].requests.length;
    assert.ok(asked >= 1 && asked <= decisions.length, `rank 0's agent made ${asked} calls for ${decisions.length} decisions`);
    for (const r of apis[0].requests) assert.equal(r.headers['auth-token'], TOKEN);
    // the follower's carbon is its energy at rank 0's intensity (300 g/kWh), not its own source's (301)
    const follower = runs[1].json;
    assert.ok(Math.abs(follower.carbonG - (follower.energyJ / 3.6e6) * 300) < 1e-6 * follower.carbonG + 1e-9, `${follower.carbonG} g for ${follower.energyJ} J`);
  });
});

describe('the lease: a node whose ranks go silent puts its GPUs back; the job dying restores every node', () => {
  it('rank 1 stops stepping (hung, partitioned): its node\'s lease lapses and its GPU goes back to the maximum while the job lives; at the end both nodes restore', async () => {
    const waitFile = join(mkdtempSync(join(tmpdir(), 'chase-lease-')), 'go');
    // rank 1 stops after step 260 (past the first profiling decisions) and waits until its node's lease lapsed
    const runs = await runJob(2, {
      trainArgs: ['--steps', '600', '--step-ms', '20', '--stop-rank', '1', '--stop-at', '260', '--wait-file', waitFile, '--timeout-s', '60'],
      onOutput: (node) => (node === 1 ? { when: (out) => /lease on this node lapsed/.test(out.stderr), then: () => writeFileSync(waitFile, '') } : undefined),
    });
    const [zero, one] = runs;
    const d1 = one.json.distributed!;
    assert.equal(d1.state, 'lapsed', one.stderr.slice(-3000));
    // whichever the node's lease noticed first: its ranks' silence, or rank 0's last decision running out
    assert.match(d1.reason ?? '', /^(no heartbeat from the job's ranks on this node for \d+\.\d s|no new decision from rank 0's agent since the last one lapsed at )/);
    // before the lapse node 1 ran at a limit below the maximum; the lapse put the maximum back, while its job still ran
    assert.ok(one.json.decisions!.some((d) => d.powerLimitMw < 300_000), JSON.stringify(one.json.decisions));
    const log1 = one.stderr;
    const lapsedAt = log1.search(/lease on this node lapsed/);
    assert.ok(lapsedAt >= 0);
    assert.ok(log1.slice(lapsedAt).indexOf('power limit 300000 mW') < log1.slice(lapsedAt).indexOf('power limit restored'));
    // rank 0 was held in DDP's all-reduce by the silent rank: its node lapsed too, and the job failed there when rank 1 left
    assert.equal(zero.json.distributed!.state, 'lapsed');
    assert.notEqual(zero.code, 0);
    for (const r of runs) assert.match(r.stderr, /power limit restored to 300000 mW/);
  });
});

/** One fake NVML "machine" per node: its state file, and the environment that loads the fake library. */
function fakeNode(gpu: FakeGpu, errors: FakeError[] = []): { state: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir('chase-job-nvml-');
  const state = join(dir, 'state');
  writeFakeState(state, [{ ...gpu, ts: Date.now() } as FakeGpu], errors);
  const env = fakeEnv(state, join(dir, 'state-dir'));
  return { state, env: { CHASE_STATE_DIR: env.CHASE_STATE_DIR, CHASE_NVML_LIBRARY: env.CHASE_NVML_LIBRARY, FAKE_NVML_STATE: state, CHASE_NVML_PERMISSION_PROBE: 'write', CHASE_CLAIMS_DIR: env.CHASE_CLAIMS_DIR, CHASE_GPU_BACKEND: 'nvml' } };
}

const A40_GPU: FakeGpu = { uuid: 'GPU-aaaa0000-0000-0000', name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000, util: 97 };

describe('nodes that cannot follow: no permission, other GPUs (real NVML code paths, the fake library)', () => {
  it('EPERM on one node: that node advises, the others apply, and the job\'s summary says which', async () => {
    const nodes = [fakeNode({ ...A40_GPU, uuid: 'GPU-aaaa0000-0000-0001' }), fakeNode({ ...A40_GPU, uuid: 'GPU-aaaa0000-0000-0002' }, [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: 4 }])];
    const runs = await runJob(2, { simulated: () => false, env: (node) => nodes[node].env, trainArgs: ['--steps', '300', '--step-ms', '20'] });
    for (const r of runs) assert.equal(r.code, 0, r.stderr.slice(-2000));
    const [zero, one] = runs;
    assert.deepEqual(sequence(one), sequence(zero));
    assert.ok(zero.json.decisions!.length >= 2 && zero.json.decisions!.every((d) => d.applied));
    assert.ok(one.json.decisions!.every((d) => !d.applied), JSON.stringify(one.json.decisions));
    assert.match((one.json as { advise?: string }).advise ?? '', /permission|NO_PERMISSION|root/i);
    const job = zero.json.distributed!.job!;
    assert.deepEqual(job.nodes.map((n) => n.status), ['permitted', 'advise']);
    assert.match(job.nodes[1].advise ?? '', /.+/);
    // rank 0's node ran the job's limits and restored its GPU; node 1's was never changed
    assert.match(zero.stderr, /power limit 2\d{5} mW/);
    assert.equal(readFakeLimits(nodes[0].state)['GPU-aaaa0000-0000-0001'], 300000);
    assert.equal(readFakeLimits(nodes[1].state)['GPU-aaaa0000-0000-0002'], 300000);
  });

  it('mixed GPU models and limit ranges are refused with one clear message on every node; the job runs at its default limits', async () => {
    const nodes = [fakeNode(A40_GPU), fakeNode({ uuid: 'GPU-bbbb0000-0000-0000', name: 'NVIDIA A100-SXM4-40GB', arch: 8, min: 100000, max: 400000, default: 400000, limit: 400000, demand: 350000, util: 97 })];
    const runs = await runJob(2, { simulated: () => false, env: (node) => nodes[node].env, trainArgs: ['--steps', '200', '--step-ms', '20', '--exit-code', '5'] });
    for (const r of runs) {
      assert.equal(r.code, 5, r.stderr.slice(-2000));
      const d = r.json.distributed!;
      assert.equal(d.state, 'refused');
      assert.match(d.reason ?? '', /^the job's nodes have different GPUs \(node 0: 1 × NVIDIA A40 \(100–300 W\); node 1: 1 × NVIDIA A100-SXM4-40GB \(100–400 W\)\)\. .*Run it on nodes with the same GPUs/);
      assert.deepEqual(r.json.decisions, []);
    }
    assert.equal(readFakeLimits(nodes[0].state)[A40_GPU.uuid], 300000);
    assert.equal(readFakeLimits(nodes[1].state)['GPU-bbbb0000-0000-0000'], 400000);
    // no node ran below its maximum at any time: a refused job is held at the default limits
    runs.forEach((r, node) => {
      const set = [...r.stderr.matchAll(/power limit (\d+) mW \(restores to/g)].map((m) => Number(m[1]));
      assert.deepEqual([...new Set(set)].filter((mw) => mw !== [300000, 400000][node]), [], r.stderr.slice(-2000));
    });
  });
});

describe('an agent restarted mid-job restores the limits a killed one left', () => {
  it('node 1\'s agent is SIGKILLed while its GPU runs below the maximum; the next agent there (chase-agent restore) puts the GPU back', async () => {
    const nodes = [fakeNode({ ...A40_GPU, uuid: 'GPU-cccc0000-0000-0001' }), fakeNode({ ...A40_GPU, uuid: 'GPU-cccc0000-0000-0002' })];
    const runs = await runJob(2, {
      simulated: () => false,
      env: (node) => nodes[node].env,
      trainArgs: ['--steps', '300', '--step-ms', '20'],
      signal: (node) => (node === 1 ? { name: 'SIGKILL', when: (out) => /power limit 2\d{5} mW \(restores to 300000 mW\)/.test(out.stderr) } : undefined),
    });
    assert.equal(runs[1].code, null, 'node 1\'s agent was killed');
    // rank 1 lost its agent's pipes and died with it; rank 0's job failed in DDP, and its agent restored
    assert.notEqual(runs[0].code, null);
    assert.match(runs[0].stderr, /power limit restored to 300000 mW/);
    const orphaned = readFakeLimits(nodes[1].state)['GPU-cccc0000-0000-0002'];
    assert.ok(orphaned < 300000, `the killed agent left ${orphaned} mW`);
    const restore = await runAgentCli(['restore', '--json'], nodes[1].env);
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(readFakeLimits(nodes[1].state)['GPU-cccc0000-0000-0002'], 300000);
    assert.equal(readFakeLimits(nodes[0].state)['GPU-cccc0000-0000-0001'], 300000);
  });
});

describe('a distributed job on three nodes', () => {
  it('every node applies the same decisions at the same steps; rank 0\'s node holds all three', async () => {
    const runs = await runJob(3, { trainArgs: ['--steps', '250', '--step-ms', '20'] });
    for (const r of runs) assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.ok(runs[0].json.decisions!.length >= 1);
    for (const r of runs.slice(1)) assert.deepEqual(sequence(r), sequence(runs[0]));
    runs.forEach((r, node) => assert.deepEqual([r.json.distributed!.nodeRank, r.json.distributed!.nodeCount, r.json.distributed!.worldSize], [node, 3, 3]));
    assert.deepEqual(runs[0].json.distributed!.job!.nodes.map((n) => n.nodeRank), [0, 1, 2]);
  });
});
