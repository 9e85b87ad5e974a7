/**
 * The Slurm adapter (packaging/slurm/prolog.sh, epilog.sh) run as slurmd runs it: /bin/sh with the
 * variables of Slurm's Prolog and Epilog Guide (SchedMD/slurm doc/html/prolog_epilog.shtml, commit
 * 65115c9: SLURM_JOB_GPUS and CUDA_VISIBLE_DEVICES in Prolog and Epilog, no PATH; a failing Epilog
 * drains the node), on the fake NVML library (test/fake-nvml) with three A40-like GPUs:
 *
 *   GPU 0  at a limit an administrator set (no Chase claim): never touched;
 *   GPU 1  the job's GPU, throttled by the job's `chase-agent run`, which is then SIGKILLed;
 *   GPU 2  another job's GPU, held by its live `chase-agent run` (in advise mode there: the fake
 *          NVML refuses it writes, because two processes writing one fake state file would lose
 *          each other's limits — the fake keeps no per-process state).
 *
 * The epilog runs with its own state directory (root's, /var/lib/chase-agent in production), so it
 * can only learn what the killed agent left from the machine-wide claim files.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { agentJs, repoRoot } from './agentProcess';
import { waitFor } from './waitFor';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState, type FakeGpu } from '../unit/gpu/fakeNvml';
import { runProcess } from '../distributedJob';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');
const UUIDS = ['GPU-aaaaaaaa-0000-0000', 'GPU-bbbbbbbb-1111-0001', 'GPU-cccccccc-2222-0002'];
const ADMIN_MW = 280_000;
const OTHER_JOB_MW = 250_000;
const fast = ['--speed', '3600', '--warmup-s', '0.3', '--window-s', '1', '--no-profile-store'];

function gpus(): FakeGpu[] {
  const ts = Date.now();
  return UUIDS.map((uuid, i) => ({ uuid, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: [ADMIN_MW, 300000, OTHER_JOB_MW][i], demand: 250000, energy: 0, util: 95, ts }) as FakeGpu);
}

/** A user's `chase-agent run` on one GPU, in its own process group (so SIGKILL takes its job too). */
function userRun(gpu: number, env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(process.execPath, [agentJs, 'run', ...fast, '--', 'python3', demo, '--epochs', '50', '--steps', '300', '--step-ms', '10'], {
    env: { ...env, CUDA_VISIBLE_DEVICES: String(gpu) },
    detached: true,
    stdio: 'ignore',
  });
  const done = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, done };
}

describe('Slurm prolog/epilog restore the job\'s GPUs through the agent (fake NVML)', () => {
  const dir = tempDir('chase-slurm-');
  const state = join(dir, 'nvml-state.txt');
  let userEnv: NodeJS.ProcessEnv;
  let otherJob: { child: ChildProcess; done: Promise<number | null> };
  let killedAt: Record<string, number>;

  /** slurmd's environment for the script: no PATH; the agent named by CHASE_NODE / CHASE_AGENT_JS. */
  function slurmEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const e = fakeEnv(state, join(dir, 'root-state'), { CHASE_NODE: process.execPath, CHASE_AGENT_JS: agentJs, SLURM_JOB_ID: '4242', SLURM_JOB_UID: '1000', ...extra });
    delete e.PATH;
    return e;
  }

  before(async () => {
    writeFakeState(state, gpus(), [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: 4, index: 2 }]);
    userEnv = fakeEnv(state, join(dir, 'user-state'));
    otherJob = userRun(2, userEnv);
    const job = userRun(1, userEnv);
    await waitFor(() => readFakeLimits(state)[UUIDS[1]] < 300_000 && existsSync(join(dir, 'claims', `chase-gpu-${UUIDS[2]}.claim`)), 'the job\'s run to lower GPU 1\'s limit, and the other run to claim GPU 2', 30_000);
    process.kill(-job.child.pid!, 'SIGKILL'); // the job's agent dies without restoring (OOM killer, node step teardown)
    await job.done;
    killedAt = readFakeLimits(state);
    assert.ok(killedAt[UUIDS[1]] < 300_000, 'GPU 1 stays throttled after the SIGKILL');
  });

  after(async () => {
    process.kill(-otherJob.child.pid!, 'SIGTERM');
    await otherJob.done;
  });

  it('prolog of a job without GPUs: nothing to do, exit 0', async () => {
    const r = await runProcess('/bin/sh', [join(repoRoot, 'packaging', 'slurm', 'prolog.sh')], slurmEnv({}));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
  });

  it('prolog on a GPU another live run holds: fails (Slurm drains the node and requeues the job) and names the holder', async () => {
    const r = await runProcess('/bin/sh', [join(repoRoot, 'packaging', 'slurm', 'prolog.sh')], slurmEnv({ SLURM_JOB_GPUS: '2' }));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`GPU 2 \\(${UUIDS[2]}\\): NOT restored, at \\d+ mW \\(default 300000 mW\\): GPU 2 \\(${UUIDS[2]}\\) is already controlled by another run: run run-\\w+ of pid \\d+ \\(user \\w+\\)`));
    assert.equal(readFakeLimits(state)[UUIDS[2]], OTHER_JOB_MW, 'the other run\'s GPU is left as it is');
  });

  it('epilog with SLURM_JOB_GPUS=1: GPU 1 back at its default; the administrator\'s GPU 0 and the other job\'s GPU 2 untouched', async () => {
    const r = await runProcess('/bin/sh', [join(repoRoot, 'packaging', 'slurm', 'epilog.sh')], slurmEnv({ SLURM_JOB_GPUS: '1', CUDA_VISIBLE_DEVICES: '1' }));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^GPU 1 \\(${UUIDS[1]}\\): restored from ${killedAt[UUIDS[1]]} mW to 300000 mW \\(default 300000 mW\\)$`, 'm'));
    const now = readFakeLimits(state);
    assert.equal(now[UUIDS[1]], 300_000);
    assert.equal(now[UUIDS[0]], ADMIN_MW, 'not the job\'s GPU: an administrator\'s limit stays');
    assert.equal(now[UUIDS[2]], OTHER_JOB_MW, 'another job\'s GPU: its live run keeps it');
    // run again (Slurm may retry an epilog): nothing left to do, still exit 0
    const again = await runProcess('/bin/sh', [join(repoRoot, 'packaging', 'slurm', 'epilog.sh')], slurmEnv({ SLURM_JOB_GPUS: '1' }));
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^GPU 1 \(.*\): nothing to restore, at 300000 mW/m);
  });

  it('epilog without SLURM_JOB_GPUS falls back to CUDA_VISIBLE_DEVICES; a GPU held past --wait-s fails the epilog', async () => {
    const r = await runProcess('/bin/sh', [join(repoRoot, 'packaging', 'slurm', 'epilog.sh')], slurmEnv({ CUDA_VISIBLE_DEVICES: UUIDS[2], CHASE_RESTORE_WAIT_S: '0.3' }));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /GPU 2 \(GPU-cccccccc-2222-0002\): NOT restored/);
  });
});
