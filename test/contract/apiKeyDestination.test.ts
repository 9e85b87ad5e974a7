/**
 * Issue 12, finding 3, against the built agent over JSON-RPC: the agent is the last line. Whatever a
 * client sends, the Electricity Maps key goes to a host other than api.electricitymaps.com only when
 * the settings say the user set that URL; the refusal is the carbon status a user sees.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Methods, type AgentSettings, type CarbonStatus, type Configured } from '../../agent/protocol/messages';
import { FakeApi, iso, ok } from '../unit/carbon/fakeApi';
import { initialize, shutdown, spawnAgent, type AgentUnderTest } from './agentProcess';

const TOKEN = 'em-contract-key-5b81c0';

describe('the agent sends an API key only where the user said (finding 3)', () => {
  let api: FakeApi;
  let agent: AgentUnderTest;
  const settings = (baseUrlSetBy?: 'user' | 'workspace'): AgentSettings => ({
    carbon: { provider: 'electricitymaps', zone: 'DE', replaySpeed: 1, baseUrl: `${api.url}/v3`, ...(baseUrlSetBy ? { baseUrlSetBy } : {}) },
    secrets: { electricityMapsToken: TOKEN },
  });

  before(async () => {
    api = await FakeApi.start();
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    api.on('/v3/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 287, datetime: iso(hour), updatedAt: iso(hour), isEstimated: false }));
    agent = spawnAgent({ CHASE_GPU_BACKEND: 'simulated' });
    await initialize(agent, { settings: { carbon: { provider: 'static', zone: 'XX', replaySpeed: 1, staticIntensityGPerKwh: 300 } } });
  });
  after(async () => {
    await shutdown(agent);
    await api.close();
  });

  const configure = (s: AgentSettings) => agent.rpc.sendRequest<Configured>(Methods.configure.method, s);

  it('a workspace-set URL: an actionable error and not one request', async () => {
    const { status } = await configure(settings('workspace'));
    assert.equal(status.state, 'error');
    assert.match((status as Extract<CarbonStatus, { state: 'error' }>).message, /chase\.carbon\.apiBaseUrl .* is set by this workspace's settings .*User settings/);
    assert.ok(!JSON.stringify(status).includes(TOKEN));
    assert.equal(api.requests.length, 0);
  });

  it('a URL with no stated origin: the same', async () => {
    const { status } = await configure(settings());
    assert.equal(status.state, 'error');
    assert.equal(api.requests.length, 0);
  });

  it('a user-set URL: the key goes there and the reading comes back', async () => {
    const { status } = await configure(settings('user'));
    assert.equal(status.state, 'ok', JSON.stringify(status));
    assert.equal((status as Extract<CarbonStatus, { state: 'ok' }>).intensityGPerKwh, 287);
    assert.ok(api.requests.length > 0);
    for (const r of api.requests) assert.equal(r.headers['auth-token'], TOKEN);
  });
});
