/**
 * `chase-agent run` around a real PyTorch training loop, not only the stand-in demo job: Debian's
 * torch 1.13 (CPU), torchvision (squeezenet1_1 on FakeData) and tqdm under /usr/bin/python3
 * (sample-workspace/train_torchvision.py), on simulated GPUs. What is checked is what a real job
 * produces: tqdm's own bar (carriage returns, postfix, per-epoch restarts) read as progress, the
 * reporter's calls from inside the loop, the job's exit code, a Python traceback, and SIGINT to the
 * agent while the job trains.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runAgentCli, type CliResult } from './agentProcess';
import { requirePythonModules, SYSTEM_PYTHON } from '../systemPython';

const train = join(repoRoot, 'sample-workspace', 'train_torchvision.py');
const reporterDir = join(repoRoot, 'agent', 'runs', 'python');
const fast = ['--simulate', '--speed', '3600', '--warmup-s', '0.2', '--window-s', '0.5', '--no-profile-store'];

function runAgent(args: string[], opts: Parameters<typeof runAgentCli>[2] = {}): Promise<CliResult> {
  return runAgentCli(['run', ...fast, ...args], { CHASE_STATE_DIR: mkdtempSync(join(tmpdir(), 'chase-torch-state-')), PYTHONPATH: reporterDir }, { timeoutMs: 180_000, ...opts });
}

type Summary = { exitCode: number | null; state: string; unitsDone: number; progressSource: string | null; energyJ: number; carbonG: number };

describe('chase-agent run with a real PyTorch training loop', () => {
  before(() => requirePythonModules(['torch', 'torchvision', 'tqdm'], ['python3-torch', 'python3-torchvision', 'python3-tqdm']));

  it('reads the real tqdm bar as progress: every step of every epoch, energy and carbon accounted, limits restored', async () => {
    const r = await runAgent(['--json', '--', SYSTEM_PYTHON, train, '--epochs', '2', '--steps', '6']);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const s = JSON.parse(r.stdout) as Summary;
    assert.equal(s.exitCode, 0);
    assert.equal(s.progressSource, 'tqdm');
    assert.equal(s.unitsDone, 12, 'two epochs of 6 batches, across tqdm\'s per-epoch restart');
    assert.ok(s.energyJ > 0 && s.carbonG > 0);
    assert.match(r.stderr, /train 2\/2: 100%\|[^|]*\| 6\/6 \[/, 'tqdm\'s own bar, passed through');
    assert.match(r.stderr, /training squeezenet1_1 on cpu/);
    assert.doesNotMatch(r.stderr, /Traceback/);
  });

  it('with chase_reporter in the loop: the reporter is the progress source (samples), not the tqdm bar beside it', async () => {
    const r = await runAgent(['--json', '--', SYSTEM_PYTHON, train, '--epochs', '2', '--steps', '5', '--batch', '3', '--reporter']);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const s = JSON.parse(r.stdout) as Summary;
    assert.equal(s.progressSource, 'reporter');
    assert.equal(s.unitsDone, 2 * 5 * 3, 'samples reported by chase_reporter.step(samples=images.shape[0])');
    assert.doesNotMatch(r.stderr, /chase_reporter:/, 'no reporter warning');
  });

  it('passes the job\'s exit code through; a Python exception is exit 1 with its traceback', async () => {
    const coded = await runAgent(['--', SYSTEM_PYTHON, train, '--epochs', '1', '--steps', '2', '--exit-code', '3']);
    assert.equal(coded.code, 3, coded.stderr.slice(-2000));
    assert.match(coded.stdout, /chase: .*train_torchvision\.py.* exited with 3 \[simulated GPUs\]/);
    const failed = await runAgent(['--', SYSTEM_PYTHON, train, '--epochs', '1', '--steps', '4', '--fail-at-step', '2']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /Traceback[\s\S]*RuntimeError: failing at step 2 as asked/);
    assert.match(failed.stdout, /exited with 1/);
  });

  it('SIGINT to the agent while the job trains: the job is stopped, the limits restored, its exit code reported', async () => {
    // a long job; SIGINT once a limit is set and the loop is running (conditions, not a delay)
    const limitSet = (o: { stdout: string; stderr: string }) => /power limit \d+ mW \(restores to 300000 mW\)/.test(o.stderr) && /train 1\/1:\s+\d+%\|/.test(o.stdout + o.stderr);
    const r = await runAgent(['--', SYSTEM_PYTHON, train, '--epochs', '1', '--steps', '100000'], { signal: { name: 'SIGINT', when: limitSet } });
    assert.ok(limitSet(r), `the agent was never signalled:\n${r.stderr.slice(-2000)}`);
    assert.match(r.stderr, /power limit restored to 300000 mW/);
    assert.match(r.stdout, /exited with 143 \[simulated GPUs\]/, 'stopped with SIGTERM by the agent: 128 + 15');
    assert.equal(r.code, 143);
    assert.doesNotMatch(r.stdout, /done: 100000 steps/);
  });
});
