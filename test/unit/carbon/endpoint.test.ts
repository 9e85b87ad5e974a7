/**
 * Issue 12, finding 3, the agent's side: a provider holding the user's key sends it to a host other
 * than its own only when the user set the URL, and never over plain http:// off this machine. The
 * stand-in API records every request, so "refused" means "no request at all", not just an error.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider } from '../../../agent/carbon/index';
import { credentialedBaseUrl } from '../../../agent/carbon/endpoint';
import { ELECTRICITY_MAPS_BASE_URL } from '../../../agent/carbon/electricityMaps';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import type { CarbonSettings, CarbonSecrets, SettingOrigin } from '../../../agent/protocol/messages';
import { FakeApi, fastHttp, iso, ok, status } from './fakeApi';

const TOKEN = 'em-key-do-not-leak-4411';
const SECRETS: CarbonSecrets = { electricityMapsToken: TOKEN, wattTimeUsername: 'wt-user-2290', wattTimePassword: 'wt-pass-do-not-leak-8812' };
const NOW = Date.UTC(2026, 10, 27, 9, 20);

let api: FakeApi;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());
beforeEach(() => api.reset());

const settings = (provider: CarbonSettings['provider'], baseUrl: string, baseUrlSetBy?: SettingOrigin): CarbonSettings => ({
  provider,
  zone: { watttime: 'CAISO_NORTH', 'uk-neso': 'GB' }[provider as string] ?? 'DE',
  replaySpeed: 1,
  baseUrl,
  ...(baseUrlSetBy ? { baseUrlSetBy } : {}),
});
const make = (s: CarbonSettings) => createProvider(s, NOW, SECRETS, { now: () => NOW, http: fastHttp() });

/** Throws an 'invalid-settings' CarbonSourceError matching `pattern`, showing no secret. */
function assertRefused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CarbonSourceError, String(e));
    assert.equal(e.kind, 'invalid-settings');
    assert.match(e.message, pattern);
    for (const v of Object.values(SECRETS)) assert.ok(!e.message.includes(v!), 'a secret in the message');
    return true;
  });
}

describe('where a keyed provider sends the key', () => {
  it('a workspace-set base URL gets no request: Electricity Maps and WattTime refuse with the fix in words', () => {
    for (const provider of ['electricitymaps', 'watttime'] as const) {
      assertRefused(() => make(settings(provider, `${api.url}/v3`, 'workspace')), /chase\.carbon\.apiBaseUrl \(127\.0\.0\.1:\d+\) is set by this workspace's settings.*Remove it from the workspace settings, or set it in your User settings/);
    }
    assert.equal(api.requests.length, 0);
  });

  it('a base URL whose origin the client did not state counts as not the user\'s', () => {
    assertRefused(() => make(settings('electricitymaps', `${api.url}/v3`)), /was not marked as set by you.*only to api\.electricitymaps\.com.*User settings \(or pass --base-url/);
    assert.equal(api.requests.length, 0);
  });

  it('a user-set base URL gets the key (Electricity Maps: auth-token header; WattTime: Basic auth at /login)', async () => {
    api.on('/v3/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 321, datetime: iso(Date.UTC(2026, 10, 27, 9)), updatedAt: iso(NOW), isEstimated: false }));
    const r = await make(settings('electricitymaps', `${api.url}/v3`, 'user')).latest(NOW);
    assert.equal(r.intensityGPerKwh, 321);
    assert.equal(api.requests[0].headers['auth-token'], TOKEN);

    api.on('/login', status(403, { error: 'forbidden' }));
    await assert.rejects(make(settings('watttime', api.url, 'user')).latest(NOW));
    const login = api.requests.find((q) => q.path === '/login');
    assert.equal(login?.headers.authorization, `Basic ${Buffer.from(`${SECRETS.wattTimeUsername}:${SECRETS.wattTimePassword}`).toString('base64')}`);
  });

  it('plain http:// is refused off this machine, whoever set it', () => {
    for (const url of ['http://api.electricitymaps.com/v3', 'http://proxy.example:8080/v3', 'http://10.0.0.7/v3', 'http://[::ffff:7f00:1]/v3', 'http://127.0.0.1.nip.io/v3']) {
      for (const setBy of ['user', 'workspace'] as const) {
        assertRefused(() => make(settings('electricitymaps', url, setBy)), /does not send your API token over plain http:\/\/.*Use an https:\/\/ URL, or a proxy on this machine/);
      }
    }
    assertRefused(() => make(settings('watttime', 'http://wt-proxy.example', 'user')), /does not send your username and password over plain http/);
  });

  it('loopback over http is this machine: 127.0.0.0/8, ::1 and localhost (when the user set it)', () => {
    for (const url of ['http://127.0.0.1:9/v3', 'http://127.8.9.10/v3', 'http://localhost:8080/v3', 'http://[::1]:8080/v3', 'http://LOCALHOST/v3']) {
      assert.equal(credentialedBaseUrl({ service: 'T', credential: 'key', officialUrl: ELECTRICITY_MAPS_BASE_URL, baseUrl: url, setBy: 'user' }), url);
    }
  });

  it("the provider's own https host is fine whoever set it; anything else needs the user", () => {
    const own = 'https://api.electricitymaps.com:443/v4';
    for (const setBy of [undefined, 'workspace', 'user'] as const) {
      assert.equal(credentialedBaseUrl({ service: 'T', credential: 'key', officialUrl: ELECTRICITY_MAPS_BASE_URL, baseUrl: own, setBy }), own);
    }
    // look-alikes are other hosts
    for (const url of ['https://api.electricitymaps.com.evil.example/v3', 'https://api.electricitymaps.com@evil.example/v3', 'https://api.electricitymaps.com:8443/v3']) {
      assertRefused(() => credentialedBaseUrl({ service: 'T', credential: 'key', officialUrl: ELECTRICITY_MAPS_BASE_URL, baseUrl: url, setBy: 'workspace' }), /is set by this workspace's settings/);
      assert.equal(credentialedBaseUrl({ service: 'T', credential: 'key', officialUrl: ELECTRICITY_MAPS_BASE_URL, baseUrl: url, setBy: 'user' }), url);
    }
    assert.equal(credentialedBaseUrl({ service: 'T', credential: 'key', officialUrl: ELECTRICITY_MAPS_BASE_URL }), ELECTRICITY_MAPS_BASE_URL);
  });

  it('a keyless provider (UK NESO) may follow a workspace URL: it has nothing to leak', async () => {
    api.on('/intensity', status(503));
    await make(settings('uk-neso', api.url, 'workspace'))
      .latest(NOW)
      .catch(() => undefined);
    assert.ok(api.requests.length > 0);
  });
});
