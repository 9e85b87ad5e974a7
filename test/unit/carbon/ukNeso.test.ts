import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createProvider } from '../../../agent/carbon/index';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { UK_NESO_ATTRIBUTION, UkNesoProvider, pathTime } from '../../../agent/carbon/ukNeso';
import { CarbonMonitor } from '../../../agent/server/carbonMonitor';
import type { CarbonStatus } from '../../../agent/protocol/messages';
import { FakeApi, fastHttp, json, ok, status, type SeenRequest } from './fakeApi';

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

const DAY = 24 * 3_600_000;
/**
 * A stand-in for the NESO history routes that enforces their documented limit: "Get Carbon Intensity
 * data between the {from} and {to} datetimes. The maximum date range is limited to 14 days."
 * (carbon-intensity/api-definitions docs/index.html line 2149, commit e3f25a1; the regional
 * {from}/{to} routes document no limit, the stand-in applies the same one). Over the limit it answers
 * 400 in the API's documented error shape. Windows are returned inclusive of both ends, so pages that
 * meet at a boundary overlap by one window. Value of a window: 100 + its half hour of the day.
 */
function nesoHistory(req: SeenRequest, res: Parameters<typeof json>[0]): void {
  const m = /^\/(?:regional\/)?intensity\/(\d{4}-\d\d-\d\dT\d\d:\d\dZ)\/(\d{4}-\d\d-\d\dT\d\d:\d\dZ)(?:\/regionid\/(\d+))?$/.exec(req.path)!;
  const [from, to] = [Date.parse(m[1]), Date.parse(m[2])];
  if (!(to > from) || to - from > 14 * DAY) {
    json(res, 400, { error: { code: '400 Bad Request', message: 'Invalid date range: the maximum date range is limited to 14 days' } });
    return;
  }
  const list = [];
  for (let t = Math.floor(from / HALF) * HALF; t <= to; t += HALF) {
    list.push({ from: hm(t), to: hm(t + HALF), intensity: { forecast: 100 + ((t % DAY) / HALF), actual: 100 + ((t % DAY) / HALF), index: 'moderate' } });
  }
  json(res, 200, m[3] ? { data: [{ regionid: Number(m[3]), shortname: 'London', data: list }] } : { data: list });
}
const HISTORY_ROUTE = /^\/(regional\/)?intensity\/[^/]+Z\/[^/]+Z(\/regionid\/\d+)?$/;

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

  it('history longer than the API\'s 14 days comes in pages of at most 14 days, one point per half hour', async () => {
    api.onMatch(HISTORY_ROUTE, nesoHistory);
    for (const p of [provider(), provider({ regionId: 13 })]) {
      api.requests.length = 0;
      const from = NOW - 30 * DAY;
      const h = await p.history(from, NOW);
      const pages = api.requests.filter((r) => HISTORY_ROUTE.test(r.path));
      assert.equal(pages.length, 3, pages.map((r) => r.path).join('\n'));
      for (const r of pages) {
        const [a, b] = r.path.match(/\d{4}-\d\d-\d\dT\d\d:\d\dZ/g)!.map(Date.parse);
        assert.ok(b - a <= 14 * DAY, r.path);
      }
      const starts = h.map((x) => x.timestampMs);
      assert.equal(new Set(starts).size, starts.length, 'no window twice where pages meet');
      assert.equal(h.length, 30 * 48, '30 days of half hours');
      assert.ok(starts.every((t, i) => i === 0 || t - starts[i - 1] === HALF), 'contiguous and sorted');
    }
  });

  it('the grid-relative levels (status colour, "grid is high") are computed for the UK from 30 days of history', async () => {
    api.on('/intensity', ok({ data: windows(SLOT, [[200, 190]]) }));
    api.on(`/intensity/${pathTime(SLOT + HALF)}/fw48h`, ok({ data: windows(SLOT + HALF, [[180, null]]) }));
    api.onMatch(HISTORY_ROUTE, nesoHistory);
    const statuses: CarbonStatus[] = [];
    const monitor = new CarbonMonitor({
      now: () => clock,
      onStatus: (st) => statuses.push(st),
      setTimer: () => ({ dispose: () => undefined }),
      createProvider: () => provider(),
    });
    try {
      const st = await monitor.configure({ carbon: { provider: 'uk-neso', zone: 'GB', replaySpeed: 1 } });
      assert.equal(st.state, 'ok', JSON.stringify(st));
      if (st.state !== 'ok') return;
      assert.ok(st.levels, 'levels from the paged history');
      assert.match(st.levels.basis, /last 30 days \(1440 readings\)/);
      assert.ok(st.levels.lowBelowGPerKwh < st.levels.highAboveGPerKwh);
      assert.equal(api.requests.filter((r) => r.path.startsWith('/intensity/') && !r.path.endsWith('fw48h')).length, 3);
    } finally {
      monitor.dispose();
    }
  });
});
