/** Runs through the agent server: what the "chase" task uses. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { ResponseError } from 'vscode-jsonrpc/node';
import { Methods, AgentErrorCodes, type RunOutput, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { initialize, repoRoot, shutdown, spawnAgent, type AgentUnderTest, waitForCarbon } from './agentProcess';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');

describe('chase/startRun', () => {
  let agent: AgentUnderTest;
  const output: RunOutput[] = [];
  const updates: RunSummary[] = [];
  before(async () => {
    agent = spawnAgent({ CHASE_HISTORY: 'off' });
    agent.rpc.onNotification(Methods.runOutput.method, (o: RunOutput) => output.push(o));
    agent.rpc.onNotification(Methods.runUpdated.method, (s: RunSummary) => updates.push(s));
    await initialize(agent, { settings: { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 } } });
    await waitForCarbon(agent);
  });
  after(() => {
    if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
  });

  it('launches the job on simulated GPUs, streams its output and ends with a summary and its exit code', async () => {
    const r = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'python3', args: [demo, '--epochs', '1', '--steps', '60', '--step-ms', '10', '--exit-code', '4'], budgetPct: 2.5 });
    assert.equal(r.simulated, true);
    assert.equal(r.gpuUuids.length, 1);
    const deadline = Date.now() + 30_000;
    while (!updates.some((u) => u.id === r.runId && u.state === 'finished') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const end = updates.find((u) => u.id === r.runId && u.state === 'finished');
    assert.ok(end, 'a final runUpdated');
    assert.equal(end.exitCode, 4);
    assert.ok(end.energyJ > 0);
    assert.equal(end.unitsDone, 60);
    assert.ok(output.some((o) => o.runId === r.runId && o.text.includes('training finished')));
  });

  it('a GPU belongs to one run at a time', async () => {
    const first = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'python3', args: [demo, '--epochs', '50'], budgetPct: 2.5, gpus: [0] });
    try {
      await assert.rejects(agent.rpc.sendRequest(Methods.startRun.method, { command: 'python3', args: [demo], budgetPct: 2.5, gpus: [0] }), (e: unknown) => e instanceof ResponseError && e.code === AgentErrorCodes.runRefused && /already controlled by another run/.test(e.message));
      const live = await agent.rpc.sendRequest<RunSummary[]>(Methods.runs.method);
      assert.deepEqual(live.map((s) => s.id), [first.runId]);
    } finally {
      await agent.rpc.sendRequest(Methods.stopRun.method, { runId: first.runId });
    }
    const deadline = Date.now() + 15_000;
    while (!updates.some((u) => u.id === first.runId && u.state === 'finished') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.equal(updates.find((u) => u.id === first.runId && u.state === 'finished')?.exitCode, 143, 'stopped by SIGTERM');
  });

  it('bad input: unknown GPU, empty command, unknown run', async () => {
    await assert.rejects(agent.rpc.sendRequest(Methods.startRun.method, { command: 'python3', args: [], budgetPct: 2.5, gpus: [7] }), /GPU 7 is not visible/);
    await assert.rejects(agent.rpc.sendRequest(Methods.startRun.method, { command: '', args: [], budgetPct: 2.5 }), /needs a command/);
    await assert.rejects(agent.rpc.sendRequest(Methods.stopRun.method, { runId: 'nope' }), (e: unknown) => e instanceof ResponseError && e.code === AgentErrorCodes.unknownRun);
  });

  it('attaches to a running process by PID and ends when it exits (progress: labelled GPU proxy)', async () => {
    // the job runs until its stdin closes: ended once the run has counted energy, not after a guess
    const job = spawn('python3', ['-c', 'import sys; sys.stdin.read()'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const r = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: '', args: [], pid: job.pid, budgetPct: 2.5 });
    const deadline = Date.now() + 20_000;
    while (!updates.some((u) => u.id === r.runId && u.energyJ > 0) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    job.stdin.end();
    while (!updates.some((u) => u.id === r.runId && u.state === 'finished') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const end = updates.find((u) => u.id === r.runId && u.state === 'finished');
    assert.ok(end, 'the run ended with the process');
    assert.equal(end.pid, job.pid);
    assert.equal(end.progressSource, 'gpu-proxy');
    assert.ok(end.energyJ > 0);
    await assert.rejects(agent.rpc.sendRequest(Methods.startRun.method, { command: '', args: [], pid: 2 ** 22 + 12345, budgetPct: 2.5 }), /No process with PID/);
  });

  it('shuts down cleanly', async () => {
    assert.equal(await shutdown(agent), 0);
  });
});
