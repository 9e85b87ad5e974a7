/**
 * Issue 12, finding 7: the agent's credentials never reach the training job's environment — neither
 * through `chase-agent run -- CMD` nor through `chase/startRun` (the path of the extension's `chase`
 * task). The job here is `env` itself, the way a curious (or compromised) training script would look.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Methods, type RunOutput, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { initialize, runAgentCli, shutdown, spawnAgent } from './agentProcess';

async function waitFor<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What a user may have exported for the CLI (README) or for zeusd, each with a value that can only come from here. */
const SECRETS: Record<string, string> = {
  CHASE_ELECTRICITYMAPS_TOKEN: 'em-token-7f3a91',
  CHASE_WATTTIME_USERNAME: 'wt-user-52c1d8',
  CHASE_WATTTIME_PASSWORD: 'wt-password-0b6e44',
  CHASE_ZEUSD_TOKEN: 'zeusd-token-93aa10',
  ZEUSD_TOKEN: 'zeus-token-c4d2e7',
  CHASE_SOMETHING_TOKEN: 'other-token-18ff02',
  chase_lowercase_password: 'lower-password-6d0b3c',
};
/** Ordinary variables pass through: the job still gets the user's environment. */
const PLAIN = { CHASE_JOB_ENV_VISIBLE: 'plain-value-2e9c', HF_HOME: '/tmp/hf-home-for-test' };

function assertCleanEnv(output: string): void {
  for (const [name, value] of Object.entries(SECRETS)) {
    assert.doesNotMatch(output, new RegExp(`^${name}=`, 'm'), `${name} reached the job`);
    assert.ok(!output.includes(value), `the value of ${name} reached the job`);
  }
  for (const [name, value] of Object.entries(PLAIN)) assert.match(output, new RegExp(`^${name}=${value}$`, 'm'), `${name} should reach the job`);
  // The run's own reporter token is not the agent's secret: the job needs it to report progress.
  assert.match(output, /^CHASE_RUN_TOKEN=\S+$/m, 'the job gets its reporter token');
}

describe('the job environment (finding 7)', () => {
  it('`chase-agent run -- env` prints none of the agent\'s credentials', async () => {
    const r = await runAgentCli(['run', '--simulate', '--', 'env'], { ...SECRETS, ...PLAIN, CHASE_STATE_DIR: mkdtempSync(join(tmpdir(), 'chase-jobenv-state-')) });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assertCleanEnv(r.stdout);
  });

  it('a run started over JSON-RPC (the chase task) gets none of them either', async () => {
    const agent = spawnAgent({ ...SECRETS, ...PLAIN, CHASE_GPU_BACKEND: 'simulated' });
    try {
      await initialize(agent, { settings: { carbon: { provider: 'static', zone: 'XX', replaySpeed: 1, staticIntensityGPerKwh: 300 } } });
      let output = '';
      // `env` ends at once: its end may be announced before startRun's answer arrives.
      const ended = new Map<string, RunSummary>();
      agent.rpc.onNotification(Methods.runUpdated.method, (s: RunSummary) => {
        if (s.state === 'finished' || s.state === 'failed') ended.set(s.id, s);
      });
      agent.rpc.onNotification(Methods.runOutput.method, (o: RunOutput) => (output += o.text));
      const { runId } = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'env', args: [], budgetPct: 2.5 });
      const summary = await waitFor(() => ended.get(runId), 20_000, 'the run to end');
      assert.equal(summary.exitCode, 0, summary.error);
      assertCleanEnv(output);
    } finally {
      await shutdown(agent);
    }
  });
});
