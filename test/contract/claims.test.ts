/**
 * Issue 12, finding 6: two agents (each with its own state directory, as a service and a user's
 * `chase-agent run` would have) on one machine. A GPU is claimed machine-wide: a second run on it
 * is refused with who holds it, and starts nothing. An agent that takes over the GPU after the first
 * was killed restores NVML's default limit, not the throttled one the dead agent left (before the
 * fix it recorded that as "previous" and left the GPU throttled for good). Simulated GPUs exist per
 * process: parallel simulated runs never collide on claims.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { agentJs, repoRoot, runAgentCli } from './agentProcess';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState } from '../unit/gpu/fakeNvml';
import { waitFor } from './waitFor';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');
const U0 = 'GPU-11111111-aaaa-0000';
const fast = ['--speed', '3600', '--warmup-s', '0.3', '--window-s', '1', '--no-profile-store'];

function machine() {
  const dir = tempDir('chase-claims-e2e-');
  const state = join(dir, 'state.txt');
  writeFakeState(state, [{ uuid: U0, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000 }]);
  // two agents, two state directories, one machine (the claims dir sits next to the fake's state)
  return { state, envA: fakeEnv(state, join(dir, 'state-a')), envB: fakeEnv(state, join(dir, 'state-b')), claims: join(dir, 'claims') };
}

const claimFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

function longRun(env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [agentJs, 'run', ...fast, '--gpus', '0', '--', 'python3', demo, '--epochs', '200', '--steps', '300', '--step-ms', '10'], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr, exited: new Promise((r) => child.on('exit', r)) };
}

describe('machine-wide GPU claims across agents (fake NVML)', () => {
  it('a second agent\'s run on a claimed GPU is refused with the holder\'s run, pid and user, and launches nothing', async (t) => {
    const m = machine();
    const first = longRun(m.envA);
    t.after(() => first.child.exitCode === null && process.kill(-first.child.pid!, 'SIGKILL'));
    await waitFor(() => readFakeLimits(m.state)[U0] < 300000 || undefined, `the first agent to lower GPU 0; stderr: ${first.stderr().slice(-800)}`, 20_000);
    const second = await runAgentCli(['run', ...fast, '--gpus', '0', '--', 'python3', '-c', 'print("the job ran")'], m.envB, { timeoutMs: 30_000 });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`GPU 0 \\(${U0}\\) is already controlled by another run: run run-\\w+ of pid ${first.child.pid} \\(user \\w+\\), agent pid ${first.child.pid}`));
    assert.equal(second.stderr.split('\n').filter((l) => l.trim() !== '').length, 1, `one line: ${second.stderr}`);
    assert.doesNotMatch(second.stdout, /the job ran/, 'nothing launched');
    assert.ok(readFakeLimits(m.state)[U0] < 300000, 'the holder keeps controlling GPU 0');
    first.child.kill('SIGTERM');
    await first.exited;
    assert.equal(readFakeLimits(m.state)[U0], 300000);
    assert.deepEqual(claimFiles(m.claims), [], 'the claim is released at the end');
  });

  it('after the holder is SIGKILLed, an agent with another state dir takes the GPU over and restores NVML\'s default, not the throttled limit', async () => {
    const m = machine();
    const first = longRun(m.envA);
    const throttled = await waitFor(() => (readFakeLimits(m.state)[U0] < 300000 ? readFakeLimits(m.state)[U0] : undefined), `the first agent to lower GPU 0; stderr: ${first.stderr().slice(-800)}`, 20_000);
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    assert.equal(readFakeLimits(m.state)[U0], throttled, 'SIGKILL left GPU 0 throttled');
    const next = await runAgentCli(['run', ...fast, '--gpus', '0', '--', 'python3', '-c', 'pass'], m.envB, { timeoutMs: 30_000 });
    assert.equal(next.code, 0, next.stderr);
    assert.equal(readFakeLimits(m.state)[U0], 300000, 'back at the default, not at the dead agent\'s limit');
    assert.match(next.stderr, new RegExp(`GPU 0 \\(${U0}\\) is at ${throttled} mW, and the claim of run run-\\w+ of pid ${first.child.pid} \\(user \\w+\\) on it is stale .* restores its limit from before that agent, 300000 mW`));
    assert.deepEqual(claimFiles(m.claims), []);
  });

  it('simulated GPUs: parallel runs in separate processes never collide on claims, and leave no claim files', async () => {
    const m = machine();
    const env = { ...m.envA, CHASE_CLAIMS_DIR: m.claims };
    const runs = await Promise.all([0, 1].map(() => runAgentCli(['run', '--simulate', ...fast, '--', 'python3', '-c', 'import time; time.sleep(1)'], env, { timeoutMs: 30_000 })));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(claimFiles(m.claims), []);
  });
});
