/**
 * Issue 14 item 1, the named bugs: a run is recorded in the history whichever face started it, and
 * a stopped run is recorded as `stopped`, not `failed`.
 *  - `chase-agent run …` then `chase-agent runs list` shows the run with its totals (before: CLI
 *    runs were never recorded — only the agent server's RunManager wrote history);
 *  - SIGTERM / SIGINT to `chase-agent run`, and `chase/stopRun`, are recorded as `stopped` (before:
 *    `failed`, from the job's exit code 143; `stopped` was never written);
 *  - a live run's totals are in the history as it goes, as docs/accounting.md says (before: 0 until
 *    it ended, so a killed agent left an interrupted run with no energy);
 *  - `chase/startRun` says at once when the run can only advise (before: the answer was built
 *    before the lease was asked, so `advise` was never in it).
 * The demo on simulated GPUs (or the fake NVML library), a replayed trace one hour per second, and a
 * stored profile of the demo seeded in the history so that runs control from their first period.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Methods, type RecentRunsResult, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { HistoryStore } from '../../agent/store/history';
import { historyProfileStore } from '../../agent/runs/profileStore';
import type { RunRecord } from '../../agent/store/types';
import { initialize, repoRoot, runAgentCli, shutdown, spawnAgent, waitForCarbon, type AgentUnderTest } from './agentProcess';
import { fakeEnv, tempDir, writeFakeState } from '../unit/gpu/fakeNvml';
import { memoryLogger } from '../unit/store/helpers';
import { waitFor } from './waitFor';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');
const SIM_MODEL = 'NVIDIA A40 (simulated)';

/** A state dir whose history holds a profile of workload "demo" on `gpuModel` (the demo's own speed at 10 ms a step). */
function seededStateDir(gpuModel = SIM_MODEL): string {
  const dir = mkdtempSync(join(tmpdir(), 'chase-history-state-'));
  const store = HistoryStore.open({ path: join(dir, 'history.sqlite'), log: memoryLogger() });
  historyProfileStore(store).save(gpuModel, 'demo', [300_000, 200_000, 150_000].map((mw, k) => ({ powerLimitMw: mw, elapsedMs: 10_000, energyJ: (mw / 1000) * 8, units: [900, 850, 600][k] })));
  store.close();
  return dir;
}

const cli = ['run', '--simulate', '--speed', '3600', '--workload', 'demo', '--budget-pct', '10'];

async function runsList(stateDir: string): Promise<RunRecord[]> {
  const r = await runAgentCli(['runs', 'list', '--json'], { CHASE_STATE_DIR: stateDir }, { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as RunRecord[];
}

describe('chase-agent run is recorded in the history', () => {
  it('runs list shows the run with its totals; runs show lists the decisions it logged', async () => {
    const stateDir = seededStateDir();
    const r = await runAgentCli([...cli, '--json', '--', 'python3', demo, '--epochs', '1', '--steps', '250', '--step-ms', '10'], { CHASE_STATE_DIR: stateDir }, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const summary = JSON.parse(r.stdout) as { id: string; energyJ: number; carbonG: number; baselineCarbonG: number | null; slowdownPct: number | null };
    const runs = await runsList(stateDir);
    assert.equal(runs.length, 1, `one run recorded: ${r.stdout}`);
    const [run] = runs;
    assert.equal(run.id, summary.id);
    assert.equal(run.status, 'completed');
    assert.equal(run.exitCode, 0);
    assert.match(run.command, /python3 .*train_demo\.py --epochs 1/);
    assert.ok(summary.energyJ > 0);
    assert.equal(run.energyJ, summary.energyJ);
    assert.equal(run.carbonG, summary.carbonG);
    assert.equal(run.baselineCarbonG, summary.baselineCarbonG ?? undefined);
    assert.ok(run.endMs !== undefined && run.endMs >= run.startMs);
    assert.equal(run.policy, 'default');
    assert.equal(run.budgetPct, 10);
    assert.equal(run.zone, 'GB');

    const logged = (r.stderr.match(/period .* g\/kWh → \d+ W/g) ?? []).length;
    assert.ok(logged >= 1, 'the stored profile let it decide from its first period');
    const show = await runAgentCli(['runs', 'show', run.id, '--json'], { CHASE_STATE_DIR: stateDir }, { timeoutMs: 20_000 });
    assert.equal(show.code, 0, show.stderr);
    assert.equal((JSON.parse(show.stdout) as { decisions: unknown[] }).decisions.length, logged, 'every decision it logged is recorded');
    const table = await runAgentCli(['runs', 'list'], { CHASE_STATE_DIR: stateDir }, { timeoutMs: 20_000 });
    assert.match(table.stdout, new RegExp(`^${run.id}\\s+\\S+ \\S+\\s+\\S+\\s+completed\\s+[\\d.]+\\s+[\\d.]+\\s+-?[\\d.]+ g \\(`, 'm'), table.stdout);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to chase-agent run: the run is recorded as stopped, with its totals`, async () => {
      const stateDir = seededStateDir();
      // signalled once the agent has set a limit (the guard logs it), not after a guessed delay
      const limitSet = (o: { stderr: string }) => /power limit \d+ mW \(restores to 300000 mW\)/.test(o.stderr);
      const r = await runAgentCli([...cli, '--', 'python3', demo, '--epochs', '50', '--steps', '300', '--step-ms', '10'], { CHASE_STATE_DIR: stateDir }, { signal: { name: signal, when: limitSet }, timeoutMs: 60_000 });
      assert.ok(limitSet(r), r.stderr.slice(-2000));
      assert.match(r.stdout, /exited with 143/, 'the job got SIGTERM from the agent');
      const [run, ...others] = await runsList(stateDir);
      assert.equal(others.length, 0);
      assert.equal(run?.status, 'stopped');
      assert.equal(run.exitCode, 143);
      assert.ok(run.energyJ > 0 && run.endMs !== undefined);
    });
  }
});

describe('chase/stopRun and advise mode over the wire', () => {
  const agents: AgentUnderTest[] = [];
  after(() => {
    for (const a of agents) if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
  });

  it('a live run\'s totals are in the history as it goes; stopped with chase/stopRun, it is recorded as stopped', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'chase-history-state-'));
    const agent = spawnAgent({ CHASE_STATE_DIR: stateDir });
    agents.push(agent);
    const updates: RunSummary[] = [];
    agent.rpc.onNotification(Methods.runUpdated.method, (s: RunSummary) => updates.push(s));
    await initialize(agent, { settings: { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 } } });
    await waitForCarbon(agent);
    const { runId } = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'python3', args: [demo, '--epochs', '50'], budgetPct: 2.5 });
    // its totals are in the history as it goes (what a killed agent leaves behind)
    const live = await waitFor(async () => (await agent.rpc.sendRequest<RecentRunsResult>(Methods.recentRuns.method, { limit: 10 })).runs.find((r) => r.id === runId && r.energyJ > 0), 'the live run\'s energy in the history', 20_000);
    assert.equal(live.status, 'running');
    await agent.rpc.sendRequest(Methods.stopRun.method, { runId });
    const end = await waitFor(() => updates.find((u) => u.id === runId && u.state === 'finished'), 'the run to end', 20_000);
    const recent = await agent.rpc.sendRequest<RecentRunsResult>(Methods.recentRuns.method, { limit: 10 });
    assert.deepEqual(recent.runs.map((r) => [r.id, r.status]), [[runId, 'stopped']]);
    assert.equal(recent.runs[0].energyJ, end.energyJ);
    assert.equal(await shutdown(agent), 0);
  });

  it('chase/startRun answers advise mode when the agent may not set limits (fake NVML without permission)', async () => {
    const dir = tempDir('chase-history-advise-');
    const state = join(dir, 'state.txt');
    writeFakeState(state, [{ uuid: 'GPU-11111111-aaaa-0000', name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000 }], [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: 4 }]);
    const agent = spawnAgent({ ...fakeEnv(state, join(dir, 'chase-state')), CHASE_HISTORY: 'off' });
    agents.push(agent);
    await initialize(agent, { settings: { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 } } });
    await waitForCarbon(agent);
    const r = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'python3', args: [demo, '--epochs', '1', '--steps', '20', '--step-ms', '5'], budgetPct: 2.5 });
    assert.match(r.advise ?? '', /permission|root|CAP_SYS_ADMIN/i, `advise in the answer: ${JSON.stringify(r)}`);
    await agent.rpc.sendRequest(Methods.stopRun.method, { runId: r.runId }).catch(() => undefined);
    assert.equal(await shutdown(agent), 0);
  });
});
