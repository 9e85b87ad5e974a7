import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentSecretVar, jobEnv } from '../../../agent/runs/jobEnv';

describe('jobEnv', () => {
  it('drops the carbon API keys, zeusd tokens and any CHASE_*_TOKEN / _PASSWORD, keeps the rest', () => {
    const env = { PATH: '/usr/bin', CHASE_ELECTRICITYMAPS_TOKEN: 'a', CHASE_WATTTIME_USERNAME: 'b', CHASE_WATTTIME_PASSWORD: 'c', CHASE_ZEUSD_TOKEN: 'd', ZEUSD_TOKEN: 'e', CHASE_TOKEN: 'f', CHASE_LOG_LEVEL: 'debug', CHASE_STATE_DIR: '/tmp/x', TOKEN: 'kept', MY_PASSWORD: 'kept' };
    assert.deepEqual(jobEnv(env), { PATH: '/usr/bin', CHASE_LOG_LEVEL: 'debug', CHASE_STATE_DIR: '/tmp/x', TOKEN: 'kept', MY_PASSWORD: 'kept' });
    assert.equal(env.CHASE_ELECTRICITYMAPS_TOKEN, 'a', 'the agent keeps its own environment');
  });

  it('matches names whatever their case', () => {
    assert.ok(isAgentSecretVar('chase_electricitymaps_token'));
    assert.ok(isAgentSecretVar('Chase_Foo_Password'));
    assert.ok(!isAgentSecretVar('CHASE_REPORTER'));
  });
});
