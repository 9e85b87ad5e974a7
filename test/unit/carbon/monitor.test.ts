/**
 * The web-API providers under the agent's CarbonMonitor, against the local fake API: a fresh
 * reading, then an outage shown as the same number marked stale (never as fresh), then recovery.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CarbonMonitor } from '../../../agent/server/carbonMonitor';
import { createProvider } from '../../../agent/carbon/index';
import type { AgentSettings, CarbonStatus } from '../../../agent/protocol/messages';
import { FakeApi, HOUR, fastHttp, iso, ok, status } from './fakeApi';

let api: FakeApi;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());

describe('CarbonMonitor with a web-API provider', () => {
  it('fresh → outage (stale, with the reason) → recovery; the secret reaches the provider, never the status', async () => {
    let now = Date.UTC(2026, 10, 27, 9, 20);
    const statuses: CarbonStatus[] = [];
    let fire: (() => void) | undefined;
    const settings: AgentSettings = { carbon: { provider: 'electricitymaps', zone: 'DE', replaySpeed: 1, baseUrl: api.url, baseUrlSetBy: 'user' }, secrets: { electricityMapsToken: 'monitor-secret' } };
    const monitor = new CarbonMonitor({
      now: () => now,
      onStatus: (s) => statuses.push(s),
      setTimer: (cb) => {
        fire = cb;
        return { dispose: () => (fire = undefined) };
      },
      // How the agent should pass the secrets: createProvider(settings.carbon, now, settings.secrets).
      createProvider: (carbon, nowMs) => createProvider(carbon, nowMs, settings.secrets, { now: () => now, http: fastHttp() }),
    });
    const at = (h: number) => Date.UTC(2026, 10, 27, h);
    api.on('/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 300, datetime: iso(at(9)) }));
    const s1 = await monitor.configure(settings);
    assert.equal(s1.state, 'ok');
    assert.equal(s1.state === 'ok' && s1.stale, false);
    assert.equal(s1.state === 'ok' && s1.source.signal, 'average');

    // The API goes down at the next hour: the agent shows the last value, marked stale.
    api.on('/carbon-intensity/latest', status(503));
    /** Fires the monitor's refresh timer and waits for the status it pushes. */
    const tick = async () => {
      const before = statuses.length;
      now += HOUR;
      fire?.();
      for (let i = 0; i < 200 && statuses.length === before; i++) await new Promise((r) => setTimeout(r, 5));
    };
    await tick();
    const s2 = monitor.status;
    assert.equal(s2.state, 'ok');
    if (s2.state !== 'ok') return;
    assert.equal(s2.intensityGPerKwh, 300);
    assert.equal(s2.stale, true);
    assert.match(s2.staleReason ?? '', /HTTP 503.*Showing the last reading, from 2026-11-27 09:00 UTC/);

    api.on('/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 280, datetime: iso(at(10)) }));
    await tick();
    const s3 = monitor.status;
    assert.equal(s3.state === 'ok' && s3.stale, false);
    assert.equal(s3.state === 'ok' && s3.intensityGPerKwh, 280);
    assert.doesNotMatch(JSON.stringify(statuses), /monitor-secret/);
    assert.equal(api.requests[0].headers['auth-token'], 'monitor-secret');
    monitor.dispose();
  });
});
