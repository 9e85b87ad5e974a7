/**
 * `chase-agent run --pid N`: attaching to a process Chase did not start. The run follows the process
 * until it exits; with no progress output to read, GPU activity stands in for progress and the
 * summary says so (progressSource "gpu-proxy").
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAgentCli, type CliResult } from './agentProcess';

function runAgent(args: string[], opts: Parameters<typeof runAgentCli>[2] = {}): Promise<CliResult> {
  return runAgentCli(['run', ...args], { CHASE_STATE_DIR: mkdtempSync(join(tmpdir(), 'chase-attach-state-')) }, opts);
}

/** A job that runs until told to end (its stdin closes): no guess at how long attaching takes. */
function jobUntilStdinCloses() {
  const job = spawn('python3', ['-c', 'import sys; sys.stdin.read()'], { stdio: ['pipe', 'ignore', 'ignore'] });
  return { job, end: () => job.stdin.end(), exited: new Promise<number | null>((res) => job.on('exit', (c) => res(c))) };
}

/** The agent has attached and set a limit: samples, energy and proxy progress are being counted. */
const controlling = (o: { stderr: string }) => /attached to PID \d+/.test(o.stderr) && /power limit \d+ mW \(restores to/.test(o.stderr);

const fast = ['--simulate', '--speed', '3600', '--warmup-s', '0.3', '--window-s', '1'];

describe('chase-agent run --pid', () => {
  it('attaches to a running process, controls until it exits, and labels the progress as a GPU proxy', async () => {
    const { job, end, exited } = jobUntilStdinCloses();
    const r = await runAgent([...fast, '--pid', String(job.pid), '--gpus', '0', '--json'], { onOutput: { when: controlling, then: end } });
    assert.equal(await exited, 0);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(s.command, `pid ${job.pid}`);
    assert.equal(s.pid, job.pid);
    assert.equal(s.state, 'finished');
    assert.equal(s.progressSource, 'gpu-proxy', 'an attached job reports no steps: the proxy is named');
    assert.equal(s.exitCode, null, "another process's exit code is unknown, not invented");
    assert.ok((s.energyJ as number) > 0);
    assert.ok((s.unitsDone as number) > 0, 'GPU activity counted as progress');
    assert.match(r.stderr, /attached to PID \d+; progress from GPU activity \(progressSource gpu-proxy/);
    assert.match(r.stderr, /restor/);
  });

  it('prints a human summary that says the progress is a proxy', async () => {
    const { job, end } = jobUntilStdinCloses();
    const r = await runAgent([...fast, '--pid', String(job.pid)], { onOutput: { when: controlling, then: end } });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stdout, new RegExp(`chase: pid ${job.pid} \\(attached\\) ended \\[simulated GPUs\\]`));
    assert.match(r.stdout, /GPU activity as a proxy \(gpu-proxy/);
  });

  it('a PID that is not running is a clear usage error (exit 2), not a hang', async () => {
    const job = spawn('python3', ['-c', 'pass'], { stdio: 'ignore' });
    await new Promise((res) => job.on('exit', res));
    const r = await runAgent([...fast, '--pid', String(job.pid)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`--pid ${job.pid}: no process with that PID is running`));
  });

  it('--pid and a command together are refused; a bad --pid value is named', async () => {
    const both = await runAgent([...fast, '--pid', '1', '--', 'python3', '-c', 'pass']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --pid PID .* or a command after --/);
    const bad = await runAgent([...fast, '--pid', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--pid must be a process id/);
  });
});
