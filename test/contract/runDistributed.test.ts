/**
 * `chase-agent run` and the Python reporter of a distributed job, from outside: the built agent
 * (dist/agent.js) on simulated GPUs, jobs run with /usr/bin/python3.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { repoRoot, runAgentCli } from './agentProcess';
import { SYSTEM_PYTHON } from '../systemPython';

const reporterDir = join(repoRoot, 'agent', 'runs', 'python');

function stateEnv(): NodeJS.ProcessEnv {
  return { CHASE_STATE_DIR: mkdtempSync(join(tmpdir(), 'chase-dist-state-')), CHASE_CLAIMS_DIR: mkdtempSync(join(tmpdir(), 'chase-dist-claims-')) };
}

describe('the job finds chase_reporter with no set-up', () => {
  const show = 'import os, chase_reporter; print("PYTHONPATH=" + os.environ["PYTHONPATH"]); print("FILE=" + chase_reporter.__file__); print("ENABLED=%s" % chase_reporter.enabled())';

  it('a job under chase-agent run imports chase_reporter without PYTHONPATH being set', async () => {
    const env = { ...stateEnv(), PYTHONPATH: '' };
    const r = await runAgentCli(['run', '--simulate', '--no-profile-store', '--', SYSTEM_PYTHON, '-c', show], env);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.doesNotMatch(r.stderr, /ModuleNotFoundError/);
    assert.match(r.stdout, new RegExp(`^FILE=${reporterDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/chase_reporter\\.py$`, 'm'));
    assert.match(r.stdout, /^ENABLED=True$/m);
  });

  it('the user\'s PYTHONPATH stays first: the reporter\'s folder is appended', async () => {
    const own = mkdtempSync(join(tmpdir(), 'chase-own-path-'));
    const r = await runAgentCli(['run', '--simulate', '--no-profile-store', '--', SYSTEM_PYTHON, '-c', show], { ...stateEnv(), PYTHONPATH: own });
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.match(r.stdout, new RegExp(`^PYTHONPATH=${own}${delimiter}${reporterDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });
});
