import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider } from '../../../agent/carbon/index';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { UK_NESO_ATTRIBUTION, UkNesoProvider, pathTime } from '../../../agent/carbon/ukNeso';
import { FakeApi, fastHttp, ok, status } from './fakeApi';

const HALF = 30 * 60_000;
const NOW = Date.UTC(2026, 10, 27, 9, 40);
const SLOT = Date.UTC(2026, 10, 27, 9, 30);

let api: FakeApi;
let clock = NOW;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());
beforeEach(() => {
  api.reset();
  clock = NOW;
});

const hm = (ms: number) => new Date(ms).toISOString().slice(0, 16) + 'Z';
const windows = (start: number, values: Array<[number | null, number | null]>) =>
  values.map(([forecast, actual], i) => ({ from: hm(start + i * HALF), to: hm(start + (i + 1) * HALF), intensity: { forecast, actual, index: 'moderate' } }));
const regional = (start: number, forecasts: number[], asArray = true) => {
  const region = { regionid: 13, dnoregion: 'UKPN London', shortname: 'London', data: forecasts.map((f, i) => ({ from: hm(start + i * HALF), to: hm(start + (i + 1) * HALF), intensity: { forecast: f, index: 'low' }, generationmix: [] })) };
  return { data: asArray ? [region] : region };
};

function provider(extra: ConstructorParameters<typeof UkNesoProvider>[0] = {}) {
  return new UkNesoProvider({ baseUrl: api.url, ...extra }, { now: () => clock, http: fastHttp() });
}

describe('UK NESO provider', () => {
  it('national: uses the actual value when published', async () => {
    api.on('/intensity', ok({ data: windows(SLOT, [[200, 190]]) }));
    const p = provider();
    const r = await p.latest(NOW);
    assert.deepEqual(r, { timestampMs: SLOT, intensityGPerKwh: 190, fetchedAtMs: NOW, stale: false });
    assert.equal(p.info.attribution, UK_NESO_ATTRIBUTION);
    assert.equal(p.info.attribution, 'Carbon Intensity API (NESO), CC BY 4.0');
    assert.equal(p.info.signal, 'average');
    assert.equal(p.periodMs, HALF);
    assert.deepEqual(p.notices, []);
  });

  it('national: actual null → the forecast, marked in the notices', async () => {
    api.on('/intensity', ok({ data: windows(SLOT, [[200, null]]) }));
    const p = provider();
    const r = await p.latest(NOW);
    assert.equal(r.intensityGPerKwh, 200);
    assert.equal(r.stale, false);
    assert.match(r.note ?? '', /No measured value yet for 2026-11-27 09:30 UTC: showing the API's forecast/);
    assert.match(p.notices.join(), /No measured value yet .*forecast/);
  });

  it('caches latest for the half hour', async () => {
    api.on('/intensity', ok({ data: windows(SLOT, [[200, 190]]) }));
    const p = provider();
    await p.latest(NOW);
    await p.latest(NOW + 10 * 60_000);
    assert.equal(api.count('/intensity'), 1);
    await p.latest(NOW + HALF);
    assert.equal(api.count('/intensity'), 2);
  });

  it('national forecast: /intensity/{from}/fw48h', async () => {
    const from = SLOT + HALF;
    api.on(`/intensity/${pathTime(from)}/fw48h`, ok({ data: windows(from, [[100, null], [110, null], [120, null]]) }));
    const f = await provider().forecast(from, 1);
    assert.deepEqual(f?.map((x) => x.intensityGPerKwh), [100, 110]);
  });

  it('national history: actual where known, forecast otherwise', async () => {
    const from = SLOT - 2 * HALF;
    api.on(`/intensity/${pathTime(from)}/${pathTime(NOW + 1)}`, ok({ data: windows(from, [[100, 90], [110, null], [null, null]]) }));
    const h = await provider().history(from, NOW + 1);
    assert.deepEqual(h.map((x) => x.intensityGPerKwh), [90, 110]);
  });

  it('regional by region id (data as array) and its forecast (data as object)', async () => {
    api.on('/regional/regionid/13', ok(regional(SLOT, [150])));
    const from = SLOT + HALF;
    api.on(`/regional/intensity/${pathTime(from)}/fw48h/regionid/13`, ok(regional(from, [140, 130], false)));
    const p = provider({ regionId: 13 });
    assert.equal((await p.latest(NOW)).intensityGPerKwh, 150);
    assert.deepEqual((await p.forecast(from, 1))?.map((x) => x.intensityGPerKwh), [140, 130]);
    assert.equal(p.info.zone, 'GB region 13');
  });

  it('regional by outward postcode', async () => {
    api.on('/regional/postcode/RG10', ok(regional(SLOT, [175])));
    const p = createProvider({ provider: 'uk-neso', zone: 'GB', replaySpeed: 1, ukPostcode: 'rg10', baseUrl: api.url }, NOW, {}, { now: () => clock, http: fastHttp() });
    assert.equal((await p.latest(NOW)).intensityGPerKwh, 175);
    assert.equal(p.info.zone, 'GB RG10');
  });

  it('a postcode the API rejects names the setting', async () => {
    api.on('/regional/postcode/ZZ9', status(400, { error: { code: '400 Bad Request', message: 'Please enter a valid postcode' } }));
    await assert.rejects(provider({ postcode: 'ZZ9' }).latest(NOW), (e: unknown) => {
      assert.ok(e instanceof CarbonSourceError);
      assert.equal(e.kind, 'unknown-zone');
      assert.match(e.message, /did not accept the postcode "ZZ9" \(Please enter a valid postcode\)\. Set chase\.carbon\.ukPostcode/);
      return true;
    });
  });

  it('zones outside GB are refused with advice', () => {
    assert.throws(() => provider({ zone: 'DE' }), /covers Great Britain only.*chase\.carbon\.zone to "GB"/);
    assert.throws(() => provider({ regionId: 18 }), /1 to 17/);
  });

  it('empty data and wrong types are errors, 5xx offline falls back stale', async () => {
    api.on('/intensity', ok({ data: [] }));
    await assert.rejects(provider().latest(NOW), /sent no data/);
    api.on('/intensity', ok({ data: [{ from: hm(SLOT), intensity: { forecast: 'high', actual: null } }] }));
    await assert.rejects(provider().latest(NOW), /intensity\.forecast should be a number/);
    const p = provider();
    api.on('/intensity', ok({ data: windows(SLOT, [[200, 190]]) }));
    await p.latest(NOW);
    api.on('/intensity', status(500));
    const r = await p.latest(NOW + HALF);
    assert.equal(r.stale, true);
    assert.equal(r.intensityGPerKwh, 190);
    assert.match(r.staleReason ?? '', /HTTP 500/);
  });
});
