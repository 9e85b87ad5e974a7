import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ElectricityMapsProvider } from '../../../agent/carbon/electricityMaps';
import { createProvider } from '../../../agent/carbon/index';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { FakeApi, HOUR, fastHttp, hang, huge, iso, malformed, ok, status, expectCarbonError } from './fakeApi';

const TOKEN = 'em-secret-token-123';
const NOW = Date.UTC(2026, 10, 27, 9, 20);
const HOUR_START = Date.UTC(2026, 10, 27, 9);

let api: FakeApi;
let clock = NOW;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());
beforeEach(() => {
  api.reset();
  clock = NOW;
});

function provider(extra: Partial<ConstructorParameters<typeof ElectricityMapsProvider>[0]> = {}, http: Record<string, number> = {}) {
  return new ElectricityMapsProvider({ token: TOKEN, zone: 'DE', baseUrl: `${api.url}/v3`, baseUrlSetBy: 'user', ...extra }, { now: () => clock, http: { ...fastHttp(), ...http } });
}

const latest = (value: number | null = 321, at = HOUR_START) => ok({ zone: 'DE', carbonIntensity: value, datetime: iso(at), updatedAt: iso(at), emissionFactorType: 'lifecycle', isEstimated: false });
const series = (key: 'history' | 'forecast', start: number, values: Array<number | null>) =>
  ok({ zone: 'DE', [key]: values.map((v, i) => ({ carbonIntensity: v, datetime: iso(start + i * HOUR) })) });

const expectError = (p: Promise<unknown>, kind: CarbonSourceError['kind'], pattern: RegExp) => expectCarbonError(p, kind, pattern, [new RegExp(TOKEN)]);

describe('Electricity Maps provider', () => {
  it('reads latest with the auth-token header and settings as query params', async () => {
    api.on('/v3/carbon-intensity/latest', latest(321));
    const p = provider({ emissionFactorType: 'direct', disableEstimations: true });
    const r = await p.latest(NOW);
    assert.deepEqual(r, { timestampMs: HOUR_START, intensityGPerKwh: 321, fetchedAtMs: NOW, stale: false });
    const req = api.requests[0];
    assert.equal(req.headers['auth-token'], TOKEN);
    assert.equal(req.query.get('zone'), 'DE');
    assert.equal(req.query.get('emissionFactorType'), 'direct');
    assert.equal(req.query.get('disableEstimations'), 'true');
    assert.equal(p.info.signal, 'average');
    assert.equal(p.info.kind, 'electricitymaps');
  });

  it('asks by lat/lon and takes the zone Electricity Maps resolved', async () => {
    api.on('/v3/carbon-intensity/latest', latest(100));
    const p = provider({ zone: undefined, latitude: 52.5, longitude: 13.4 });
    await p.latest(NOW);
    assert.equal(api.requests[0].query.get('lat'), '52.5');
    assert.equal(api.requests[0].query.get('lon'), '13.4');
    assert.equal(api.requests[0].query.has('zone'), false);
    assert.equal(p.info.zone, 'DE');
  });

  it('does not refetch latest within its period (cache hit), refetches in the next', async () => {
    api.on('/v3/carbon-intensity/latest', latest(321));
    const p = provider();
    await p.latest(NOW);
    await p.latest(NOW + 30 * 60_000);
    assert.equal(api.count('/v3/carbon-intensity/latest'), 1);
    await p.latest(NOW + HOUR);
    assert.equal(api.count('/v3/carbon-intensity/latest'), 2);
  });

  it('while the API still returns the previous hour, asks again after a quarter hour (not before)', async () => {
    api.on('/v3/carbon-intensity/latest', latest(300, HOUR_START - HOUR));
    const p = provider();
    const a = await p.latest(HOUR_START + 60_000);
    assert.equal(a.stale, false, 'one hour behind is within what Electricity Maps allows');
    await p.latest(HOUR_START + 10 * 60_000);
    assert.equal(api.count('/v3/carbon-intensity/latest'), 1);
    api.on('/v3/carbon-intensity/latest', latest(310, HOUR_START));
    const b = await p.latest(HOUR_START + 17 * 60_000);
    assert.equal(b.intensityGPerKwh, 310);
    assert.equal(api.count('/v3/carbon-intensity/latest'), 2);
    await p.latest(HOUR_START + 50 * 60_000);
    assert.equal(api.count('/v3/carbon-intensity/latest'), 2);
  });

  it('caches history within the period and skips null values', async () => {
    api.on('/v3/carbon-intensity/history', series('history', HOUR_START - 3 * HOUR, [10, null, 30, 40]));
    const p = provider();
    const h = await p.history(NOW - 24 * HOUR, NOW + 1);
    assert.deepEqual(h.map((x) => x.intensityGPerKwh), [10, 30, 40]);
    await p.history(NOW - 24 * HOUR, NOW + 1);
    assert.equal(api.count('/v3/carbon-intensity/history'), 1);
  });

  it('answers every history range in a period from one /history request (it is always the last 24 h)', async () => {
    api.on('/v3/carbon-intensity/history', series('history', HOUR_START - 3 * HOUR, [10, 20, 30, 40]));
    const p = provider();
    // the dashboard's past hours, the model's 56 days, the levels' 30 days
    assert.deepEqual((await p.history(NOW - 2 * HOUR, NOW + 1)).map((x) => x.intensityGPerKwh), [30, 40]);
    assert.deepEqual((await p.history(NOW - 56 * 24 * HOUR, HOUR_START + HOUR)).map((x) => x.intensityGPerKwh), [10, 20, 30, 40]);
    assert.deepEqual((await p.history(NOW - 30 * 24 * HOUR, HOUR_START - HOUR)).map((x) => x.intensityGPerKwh), [10, 20]);
    assert.equal(api.count('/v3/carbon-intensity/history'), 1);
  });

  it('returns the forecast when the plan has it', async () => {
    api.on('/v3/carbon-intensity/forecast', series('forecast', HOUR_START + HOUR, [200, 210, 220]));
    const f = await provider().forecast(HOUR_START + HOUR, 2);
    assert.deepEqual(f?.map((x) => x.intensityGPerKwh), [200, 210]);
  });

  for (const code of [401, 403]) {
    it(`degrades a ${code} "not in your plan" forecast to undefined with a notice, and does not ask again`, async () => {
      api.on('/v3/carbon-intensity/forecast', status(code, { error: 'Forecast is not in your plan' }));
      const p = provider();
      assert.equal(await p.forecast(HOUR_START + HOUR, 24), undefined);
      assert.match(p.notices.join(' '), /not in your plan: Chase uses its own forecast/);
      clock += 2 * HOUR;
      assert.equal(await p.forecast(HOUR_START + 3 * HOUR, 24), undefined);
      assert.equal(api.count('/v3/carbon-intensity/forecast'), 1);
    });
  }

  it('an invalid token says what to do', async () => {
    api.on('/v3/carbon-intensity/latest', status(401, { error: `Invalid auth-token ${TOKEN}` }));
    await expectError(provider().latest(NOW), 'auth', /^Electricity Maps rejected the API token \(401\)\. Set it with the command 'Chase: Set API Key'/);
  });

  it('a missing token fails at creation with the same advice', () => {
    assert.throws(() => createProvider({ provider: 'electricitymaps', zone: 'DE', replaySpeed: 1 }, NOW, {}), /needs an API token\. Set it with the command 'Chase: Set API Key'/);
  });

  it('an unknown zone names the setting', async () => {
    api.on('/v3/carbon-intensity/latest', status(404, { error: "Zone 'XX' does not exist" }));
    await expectError(provider({ zone: 'XX' }).latest(NOW), 'unknown-zone', /does not know the zone "XX" \(Zone 'XX' does not exist\)\. Set chase\.carbon\.zone/);
  });

  it('a zone with no recent data: null value, an API error, or a very old datetime', async () => {
    api.on('/v3/carbon-intensity/latest', latest(null));
    await expectError(provider().latest(NOW), 'unavailable', /no recent data for zone "DE"/);
    api.on('/v3/carbon-intensity/latest', status(404, { error: 'No recent data for zone "DE"' }));
    await expectError(provider().latest(NOW), 'unavailable', /no recent data/);
    api.on('/v3/carbon-intensity/latest', latest(300, NOW - 3 * 24 * HOUR));
    await expectError(provider().latest(NOW), 'unavailable', /no recent data for DE \(the newest value is from 2026-11-24/);
  });

  it('flags a value older than its period allows as stale, never fresh', async () => {
    api.on('/v3/carbon-intensity/latest', latest(300, HOUR_START - 5 * HOUR));
    const r = await provider().latest(NOW);
    assert.equal(r.stale, true);
    assert.match(r.staleReason ?? '', /no value newer than 2026-11-27 04:00 UTC/);
  });

  it('wrong types and empty arrays', async () => {
    api.on('/v3/carbon-intensity/latest', ok({ carbonIntensity: '321', datetime: iso(HOUR_START) }));
    await expectError(provider().latest(NOW), 'malformed', /carbonIntensity should be a number but is "321"/);
    api.on('/v3/carbon-intensity/history', ok({ history: {} }));
    await expectError(provider().history(NOW - HOUR, NOW), 'malformed', /history should be an array/);
    api.on('/v3/carbon-intensity/history', ok({ history: [] }));
    assert.deepEqual(await provider().history(NOW - HOUR, NOW), []);
  });

  it('never puts the token in a message, even when the API echoes it in a data field', async () => {
    api.on('/v3/carbon-intensity/latest', ok({ carbonIntensity: TOKEN, datetime: iso(HOUR_START) }));
    await expectError(provider().latest(NOW), 'malformed', /carbonIntensity should be a number but is "\*\*\*"/);
  });

  it('does not follow redirects (the auth-token header must not travel to another host)', async () => {
    api.on('/v3/carbon-intensity/latest', (_req, res) => {
      res.writeHead(302, { Location: `${api.url}/elsewhere` });
      res.end();
    });
    await expectError(provider().latest(NOW), 'unavailable', /HTTP 302/);
    assert.equal(api.count('/elsewhere'), 0);
  });

  it('malformed JSON, timeouts and huge bodies are CarbonSourceErrors', async () => {
    api.on('/v3/carbon-intensity/latest', malformed);
    await expectError(provider().latest(NOW), 'malformed', /not valid JSON/);
    api.on('/v3/carbon-intensity/latest', hang);
    await expectError(provider({}, { timeoutMs: 150, retries: 0 }).latest(NOW), 'unavailable', /did not answer within 150 ms/);
    api.on('/v3/carbon-intensity/latest', huge(300_000));
    await expectError(provider({}, { maxResponseBytes: 64 * 1024 }).latest(NOW), 'malformed', /larger than 64 KiB/);
  });

  it('offline: falls back to the forecast for now, then to the last good value — always stale, with the reason', async () => {
    const p = provider();
    api.on('/v3/carbon-intensity/latest', latest(321));
    api.on('/v3/carbon-intensity/forecast', series('forecast', HOUR_START + HOUR, [150, 160, 170]));
    await p.latest(NOW);
    await p.forecast(HOUR_START + HOUR, 3);
    api.on('/v3/carbon-intensity/latest', status(503));
    const next = await p.latest(NOW + HOUR);
    assert.equal(next.stale, true);
    assert.equal(next.intensityGPerKwh, 150);
    assert.match(next.staleReason ?? '', /HTTP 503.*Showing the forecast for this period/);
    // Past the forecast: the last good value, still stale.
    const later = await p.latest(NOW + 5 * HOUR);
    assert.equal(later.stale, true);
    assert.equal(later.intensityGPerKwh, 321);
    assert.match(later.staleReason ?? '', /Showing the last reading, from 2026-11-27 09:00 UTC/);
    // Too old: an error, not a number.
    await expectError(p.latest(NOW + 30 * HOUR), 'unavailable', /HTTP 503/);
  });

  it('does not fall back on an auth error: the user must act', async () => {
    const p = provider();
    api.on('/v3/carbon-intensity/latest', latest(321));
    await p.latest(NOW);
    api.on('/v3/carbon-intensity/latest', status(401));
    await expectError(p.latest(NOW + HOUR), 'auth', /rejected the API token/);
  });

  it('history keeps the last good series when offline', async () => {
    const p = provider();
    api.on('/v3/carbon-intensity/history', series('history', HOUR_START - 2 * HOUR, [1, 2, 3]));
    await p.history(NOW - 24 * HOUR, NOW + 1);
    api.on('/v3/carbon-intensity/history', status(500));
    clock += HOUR;
    assert.deepEqual((await p.history(NOW - 24 * HOUR, NOW + 1)).map((x) => x.intensityGPerKwh), [1, 2, 3]);
  });
});
