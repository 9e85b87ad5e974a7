/**
 * `chase-agent run` end to end: the built agent launches the demo workload on simulated GPUs with a
 * sped-up replayed trace, profiles the power limits online, controls them, and accounts for energy
 * and carbon. One trace hour per wall second (speed 3600).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runAgentCli, type CliResult } from './agentProcess';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');

function runAgent(args: string[], opts: Parameters<typeof runAgentCli>[2] = {}): Promise<CliResult> {
  return runAgentCli(['run', ...args], { CHASE_STATE_DIR: mkdtempSync(join(tmpdir(), 'chase-run-state-')) }, opts);
}

const fast = ['--simulate', '--speed', '3600', '--warmup-s', '0.3', '--window-s', '1'];

describe('chase-agent run', () => {
  it('runs the demo under control and reports energy, carbon, baseline and slowdown as JSON', async () => {
    const r = await runAgent([...fast, '--json', '--', 'python3', demo, '--epochs', '4', '--steps', '300', '--step-ms', '10']);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const s = JSON.parse(r.stdout) as Record<string, number | string | null>;
    for (const k of ['energyJ', 'carbonG', 'baselineCarbonG', 'savedCarbonG', 'slowdownPct', 'exitCode']) assert.ok(k in s, k);
    assert.equal(s.exitCode, 0);
    assert.ok((s.energyJ as number) > 0);
    assert.ok((s.carbonG as number) > 0);
    assert.ok((s.baselineCarbonG as number) > 0, 'a profile was measured, so a baseline exists');
    assert.equal(s.unitsDone, 1200, 'every demo step was seen in the tqdm output');
    assert.equal(s.progressSource, 'lightning');
    assert.match(r.stderr, /SIMULATED/);
    assert.match(r.stderr, /profiled \d+ limits/);
    assert.match(r.stderr, /period .* g\/kWh → \d+ W/);
    assert.match(r.stderr, /restored to 300000 mW/);
  });

  it('passes the job exit code through and prints a human summary', async () => {
    const r = await runAgent([...fast, '--', 'python3', demo, '--epochs', '1', '--steps', '20', '--step-ms', '5', '--exit-code', '3']);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /chase: .*train_demo\.py.* exited with 3 \[simulated GPUs\]/);
    assert.match(r.stdout, /chase: [\d.]+ kWh, [\d.]+ gCO₂/);
  });

  it('a command that cannot start is a clear error, not a hang', async () => {
    const r = await runAgent([...fast, '--', 'no-such-trainer-binary']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /Could not start "no-such-trainer-binary".*PATH/);
  });

  it('without a command after -- it explains the usage', async () => {
    const r = await runAgent(['--simulate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give the command to run after --/);
  });

  it('SIGTERM to the agent stops the job and restores the GPUs', async () => {
    // signalled once the agent has set a limit (the guard logs it), not after a guessed delay
    const limitSet = (o: { stderr: string }) => /power limit \d+ mW \(restores to 300000 mW\)/.test(o.stderr);
    const r = await runAgent([...fast, '--', 'python3', demo, '--epochs', '50', '--steps', '300', '--step-ms', '10'], { signal: { name: 'SIGTERM', when: limitSet } });
    assert.ok(limitSet(r), r.stderr.slice(-2000));
    assert.match(r.stderr, /power limit restored to 300000 mW/);
    assert.match(r.stdout, /exited with 143/);
  });
});
