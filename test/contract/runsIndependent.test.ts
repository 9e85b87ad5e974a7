/**
 * Issue 12, finding 1: in one agent (`serve --stdio`, what VS Code runs), every run is independent.
 * Runs A (GPU 0) and B (GPU 1) control their GPUs side by side; A ends and only GPU 0 goes back;
 * B keeps its limit; a later run C on GPU 0 lowers it again (before the fix, A's end restored every
 * GPU and closed GPU control for good, so B lost its limit and C only advised).
 *
 * Against the fake libnvidia-ml.so.1 (real NVML code paths through koffi). The runs reuse a stored
 * profile (seeded in the agent's history database), so they control from their first period
 * instead of profiling for minutes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Methods, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { HistoryStore } from '../../agent/store/history';
import { historyProfileStore } from '../../agent/runs/profileStore';
import { initialize, repoRoot, shutdown, spawnAgent, waitForCarbon, type AgentUnderTest } from './agentProcess';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState, type FakeGpu } from '../unit/gpu/fakeNvml';
import { memoryLogger } from '../unit/store/helpers';
import { waitFor } from './waitFor';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');
const U0 = 'GPU-11111111-aaaa-0000';
const U1 = 'GPU-22222222-bbbb-0001';
const DEFAULT_MW = 300000;

function a40(uuid: string): FakeGpu {
  return { uuid, name: 'NVIDIA A40', arch: 7, min: 100000, max: DEFAULT_MW, default: DEFAULT_MW, limit: DEFAULT_MW, demand: 250000 };
}

/** A stored profile for workload "steady": same speed at every limit, less energy lower down. */
function seedProfile(stateDir: string): void {
  const store = HistoryStore.open({ path: join(stateDir, 'history.sqlite'), log: memoryLogger() });
  const measurements = [300000, 250000, 200000, 150000, 100000].map((mw) => ({ powerLimitMw: mw, elapsedMs: 10_000, energyJ: (mw / 1000) * 10, units: 100 }));
  historyProfileStore(store).save('NVIDIA A40', 'steady', measurements);
  store.close();
}

describe('one agent, several runs (fake NVML)', () => {
  let agent: AgentUnderTest;
  let state: string;
  const updates: RunSummary[] = [];
  const start = (gpu: number) =>
    agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'python3', args: [demo, '--epochs', '1000', '--steps', '100', '--step-ms', '20'], budgetPct: 10, gpus: [gpu], policy: 'energy-only', workload: 'steady' });
  const finished = (runId: string) => waitFor(() => updates.find((u) => u.id === runId && (u.state === 'finished' || u.state === 'failed')), `run ${runId} to end`, 20_000);
  const lowered = (uuid: string) => waitFor(() => (readFakeLimits(state)[uuid] < DEFAULT_MW ? readFakeLimits(state)[uuid] : undefined), `GPU ${uuid} lowered`, 20_000);

  before(async () => {
    const dir = tempDir('chase-runs-indep-');
    state = join(dir, 'state.txt');
    writeFakeState(state, [a40(U0), a40(U1)]);
    const stateDir = join(dir, 'chase-state');
    seedProfile(stateDir);
    agent = spawnAgent(fakeEnv(state, stateDir));
    agent.rpc.onNotification(Methods.runUpdated.method, (s: RunSummary) => updates.push(s));
    await initialize(agent, { settings: { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 } } });
    await waitForCarbon(agent);
  });
  after(() => {
    if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
  });

  it('A ends: only A\'s GPU is restored, B keeps its limit, and C on A\'s GPU controls it again', async () => {
    const a = await start(0);
    const b = await start(1);
    assert.equal(a.advise, undefined, `A controls: ${a.advise}`);
    assert.deepEqual([a.gpuUuids, b.gpuUuids], [[U0], [U1]]);
    await lowered(U0);
    const bLimit = await lowered(U1);

    await agent.rpc.sendRequest(Methods.stopRun.method, { runId: a.runId });
    const aEnd = await finished(a.runId);
    assert.equal(aEnd.advise, undefined);
    assert.equal(readFakeLimits(state)[U0], DEFAULT_MW, 'A\'s GPU restored when A ended');
    assert.equal(readFakeLimits(state)[U1], bLimit, 'B\'s GPU keeps B\'s limit');
    const live = await agent.rpc.sendRequest<RunSummary[]>(Methods.runs.method);
    assert.deepEqual(live.map((s) => [s.id, s.advise]), [[b.runId, undefined]], 'B still runs and still controls');

    const c = await start(0);
    assert.equal(c.advise, undefined, `C controls: ${c.advise}`);
    await lowered(U0);
    assert.equal((await agent.rpc.sendRequest<RunSummary[]>(Methods.runs.method)).find((s) => s.id === c.runId)?.advise, undefined, 'C is not advise-only');

    for (const r of [b, c]) await agent.rpc.sendRequest(Methods.stopRun.method, { runId: r.runId });
    await Promise.all([finished(b.runId), finished(c.runId)]);
    assert.deepEqual(readFakeLimits(state), { [U0]: DEFAULT_MW, [U1]: DEFAULT_MW });
    assert.equal(await shutdown(agent), 0);
  });
});
