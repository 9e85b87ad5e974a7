/**
 * `chase-agent run` on real NVML code paths: the built agent loads the fake libnvidia-ml.so.1
 * (test/fake-nvml, driven by a state file) through koffi, profiles and controls two A40-like GPUs
 * while the demo runs, accounts energy from their counters, restores them at the end — and, when
 * killed with SIGKILL, the next agent restores what it left behind.
 *
 * The fake's power is min(demand, limit) and its energy counter advances with it over wall time;
 * the demo's speed does not follow the limit here (no throughput file), so no slowdown is asserted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentJs, repoRoot } from './agentProcess';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState, type FakeGpu } from '../unit/gpu/fakeNvml';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');
const A = 'GPU-11111111-aaaa-0000';
const B = 'GPU-22222222-bbbb-0001';
const fast = ['--speed', '3600', '--warmup-s', '0.3', '--window-s', '1', '--no-profile-store'];

function a40s(): FakeGpu[] {
  const now = Date.now();
  return [
    { uuid: A, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000, energy: 0, util: 97 },
    { uuid: B, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 220000, energy: 5_000_000, util: 95 },
  ].map((g) => ({ ...g, ts: now }) as FakeGpu);
}

/** Energy counters (mJ) the fake last wrote to its state file, by UUID. */
function fileEnergy(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const uuid = /uuid=(\S+)/.exec(line)?.[1];
    const e = /energy=(\d+)/.exec(line)?.[1];
    if (uuid && e) out[uuid] = Number(e);
  }
  return out;
}

interface Agent {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stderr: () => string;
}

function startAgent(args: string[], env: NodeJS.ProcessEnv): Agent {
  // Its own process group, so a SIGKILL can take the job with it.
  const child = spawn(process.execPath, [agentJs, 'run', ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const guard = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 50_000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      res({ code, signal, stdout, stderr });
    }),
  );
  return { child, done, stderr: () => stderr };
}

/** Polls the fake's limits every 50 ms until `stop` resolves; returns the lowest seen per GPU. */
function watchLimits(state: string, stop: Promise<unknown>): Promise<Record<string, number>> {
  const min: Record<string, number> = {};
  const poll = () => {
    try {
      for (const [u, l] of Object.entries(readFakeLimits(state))) min[u] = Math.min(min[u] ?? Infinity, l);
    } catch {
      /* mid-rename */
    }
  };
  const timer = setInterval(poll, 50);
  return stop.then(() => {
    clearInterval(timer);
    poll();
    return min;
  });
}

describe('chase-agent run on the fake NVML library', () => {
  it('sets limits on the GPUs during the run, restores them, accounts energy from the counters and passes the exit code', async () => {
    const dir = tempDir('chase-fake-run-');
    const state = join(dir, 'state.txt');
    writeFakeState(state, a40s());
    const agent = startAgent([...fast, '--gpus', '0,1', '--json', '--', 'python3', demo, '--epochs', '6', '--steps', '300', '--step-ms', '10', '--exit-code', '3'], fakeEnv(state, join(dir, 'chase-state')));
    const minSeen = watchLimits(state, agent.done);
    const r = await agent.done;
    const lowest = await minSeen;
    assert.equal(r.code, 3, `exit code passed through; stderr: ${r.stderr.slice(-2000)}`);
    const s = JSON.parse(r.stdout) as { energyJ: number; durationMs: number; exitCode: number; gpuUuids: string[]; energyCounters: Array<{ uuid: string; firstMj: number; lastMj: number }> };
    assert.deepEqual(s.gpuUuids, [A, B]);
    assert.doesNotMatch(r.stderr, /SIMULATED/);
    // Limits: lowered on both GPUs while the job ran (profiling walks down from 300 W), restored after.
    assert.ok(lowest[A] < 300000 && lowest[B] < 300000, `lowest limits seen in the state file: ${JSON.stringify(lowest)}`);
    assert.deepEqual(readFakeLimits(state), { [A]: 300000, [B]: 300000 }, 'restored to the original limits');
    assert.match(r.stderr, /period .* g\/kWh → \d+ W/, 'profiling done, the policy set limits per period');
    // Energy: the run's total is the counters' delta (within 1 %), and consistent with the fake's physics.
    const counterJ = s.energyCounters.reduce((t, c) => t + (c.lastMj - c.firstMj), 0) / 1000;
    const errPct = (Math.abs(s.energyJ - counterJ) / counterJ) * 100;
    console.log(`# energyJ ${s.energyJ.toFixed(1)} J, counter delta ${counterJ.toFixed(1)} J, error ${errPct.toFixed(4)} %`);
    assert.ok(errPct < 1, `energyJ ${s.energyJ} vs counters ${counterJ}`);
    const end = fileEnergy(state); // written at the final restore, after the last sample
    for (const c of s.energyCounters) assert.ok(c.lastMj <= end[c.uuid] && c.firstMj <= c.lastMj, `counter ${c.uuid} ${c.firstMj}→${c.lastMj} ≤ ${end[c.uuid]}`);
    const fakeJ = Object.keys(end).reduce((t, u) => t + end[u] - (u === B ? 5_000_000 : 0), 0) / 1000;
    const avgW = s.energyJ / (s.durationMs / 1000);
    console.log(`# fake counters since the state file was written: ${fakeJ.toFixed(1)} J (includes agent start-up); run average ${avgW.toFixed(0)} W over ${s.durationMs} ms`);
    assert.ok(s.energyJ <= fakeJ, 'the run cannot count more than the fake burnt');
    // From the run's first reading to the final restore (the fake's own integral of min(demand, limit)):
    // only the tail after the last sample is not the run's, and it must be tiny.
    const windowJ = s.energyCounters.reduce((t, c) => t + (end[c.uuid] - c.firstMj), 0) / 1000;
    const tailPct = ((windowJ - s.energyJ) / windowJ) * 100;
    console.log(`# fake counters from the run's first sample to the restore: ${windowJ.toFixed(1)} J; run energyJ is ${tailPct.toFixed(3)} % below`);
    assert.ok(tailPct >= 0 && tailPct < 1, `run ${s.energyJ} J vs fake ${windowJ} J from its first sample to the restore`);
    assert.ok(avgW > 2 * 100 * 0.9 && avgW < (250 + 220) * 1.05, `average power ${avgW} W: between both GPUs at the minimum limit and at their demand`);
  });

  it('after a SIGKILL mid-run, the next agent with the same CHASE_STATE_DIR restores the throttled GPU', async () => {
    const dir = tempDir('chase-fake-kill-');
    const state = join(dir, 'state.txt');
    writeFakeState(state, a40s().slice(0, 1));
    const env = fakeEnv(state, join(dir, 'chase-state'));
    const agent = startAgent([...fast, '--', 'python3', demo, '--epochs', '20', '--steps', '300', '--step-ms', '10'], env);
    const deadline = Date.now() + 20_000;
    while ((readFakeLimits(state)[A] ?? 300000) >= 300000 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    const throttled = readFakeLimits(state)[A];
    assert.ok(throttled < 300000, `the agent lowered the limit before the kill; stderr: ${agent.stderr().slice(-1500)}`);
    process.kill(-agent.child.pid!, 'SIGKILL'); // the agent and the job
    const killed = await agent.done;
    assert.equal(killed.signal, 'SIGKILL');
    assert.equal(readFakeLimits(state)[A], throttled, 'SIGKILL leaves the GPU throttled');

    const next = startAgent([...fast, '--', 'python3', '-c', 'pass'], env);
    const r = await next.done;
    assert.equal(r.code, 0, r.stderr.slice(-1500));
    assert.match(r.stderr, new RegExp(`restored GPU 0 \\(${A}\\) to 300000 mW, left at ${throttled} mW by agent pid ${agent.child.pid}`));
    assert.equal(readFakeLimits(state)[A], 300000);
  });
});
