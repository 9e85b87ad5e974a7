import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { WattTimeProvider, lbsPerMwhToGPerKwh } from '../../../agent/carbon/wattTime';
import { FakeApi, fastHttp, iso, json, status, type Handler, expectCarbonError } from './fakeApi';

const USER = 'wt-user';
const PASS = 'wt-password-secret';
const MIN = 60_000;
const NOW = Date.UTC(2026, 10, 27, 9, 7);
const FIVE = Date.UTC(2026, 10, 27, 9, 5);

let api: FakeApi;
let clock = NOW;
let issued = 0;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());
beforeEach(() => {
  api.reset();
  clock = NOW;
  issued = 0;
  api.on('/login', login);
});

/** Issues token-1, token-2, … for the right Basic credentials. */
const login: Handler = (req, res) => {
  const expected = 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');
  if (req.headers.authorization !== expected) return json(res, 401, { error: 'bad credentials' });
  json(res, 200, { token: `token-${++issued}` });
};

/** A data endpoint that accepts only the newest token. */
const authed =
  (body: unknown): Handler =>
  (req, res) =>
    req.headers.authorization === `Bearer token-${issued}` ? json(res, 200, body) : json(res, 401, { error: 'token expired' });

const moer = (points: Array<[number, number]>, units = 'lbs_co2_per_mwh') => ({
  meta: { region: 'CAISO_NORTH', signal_type: 'co2_moer', units },
  data: points.map(([t, v]) => ({ point_time: iso(t), value: v })),
});

function provider(extra: Partial<ConstructorParameters<typeof WattTimeProvider>[0]> = {}, tokenLifetimeMs?: number) {
  return new WattTimeProvider({ username: USER, password: PASS, zone: 'CAISO_NORTH', baseUrl: api.url, baseUrlSetBy: 'user', ...extra }, { now: () => clock, http: fastHttp(), tokenLifetimeMs });
}

const expectError = (p: Promise<unknown>, kind: CarbonSourceError['kind'], pattern: RegExp) => expectCarbonError(p, kind, pattern, [new RegExp(PASS), /token-\d/]);

describe('WattTime provider', () => {
  it('logs in with Basic auth, reads the current MOER from /v3/historical and converts lbs/MWh to g/kWh', async () => {
    api.on('/v3/historical', authed(moer([[FIVE - 5 * MIN, 800], [FIVE, 1000]])));
    const p = provider();
    const r = await p.latest(NOW);
    assert.equal(r.timestampMs, FIVE);
    assert.ok(Math.abs(r.intensityGPerKwh - 453.59237) < 1e-9);
    assert.equal(r.stale, false);
    assert.equal(p.info.signal, 'marginal');
    const q = api.requests.find((x) => x.path === '/v3/historical')!.query;
    assert.equal(q.get('region'), 'CAISO_NORTH');
    assert.equal(q.get('signal_type'), 'co2_moer');
    assert.equal(p.periodMs, 5 * MIN);
  });

  it('reuses the token, renews it before it expires', async () => {
    api.on('/v3/historical', authed(moer([[FIVE, 1000]])));
    const p = provider({}, 25 * MIN);
    await p.latest(NOW);
    clock += 10 * MIN;
    await p.latest(clock);
    assert.equal(p.loginCount, 1);
    clock += 20 * MIN; // 30 min after login: past the 25-min lifetime
    api.on('/v3/historical', authed(moer([[clock - MIN, 1000]])));
    await p.latest(clock);
    assert.equal(p.loginCount, 2);
    assert.equal(api.count('/login'), 2);
  });

  it('renews the token once on a 401 and repeats the request', async () => {
    api.on('/v3/historical', authed(moer([[FIVE, 1000]])));
    const p = provider();
    await p.latest(NOW);
    issued++; // the server revokes token-1 (next login gives token-3; token-2 is "current")
    clock += 5 * MIN;
    api.on('/v3/historical', authed(moer([[clock - MIN, 1000]])));
    const r = await p.latest(clock);
    assert.equal(r.stale, false);
    assert.equal(p.loginCount, 2);
    assert.equal(api.count('/v3/historical'), 3, 'first try, 401, repeat');
  });

  it('a second 401 after renewing is an auth error (no loop)', async () => {
    api.on('/v3/historical', status(401, { error: 'nope' }));
    const p = provider();
    await expectError(p.latest(NOW), 'auth', /rejected the login token twice/);
    assert.equal(p.loginCount, 2);
    assert.equal(api.count('/v3/historical'), 2);
  });

  it('a wrong password says what to do', async () => {
    await expectError(provider({ password: 'wrong-password' }).latest(NOW), 'auth', /^WattTime rejected the username or password \(401\)\. Set them with the command 'Chase: Set API Key'/);
  });

  it('missing credentials fail at creation', () => {
    assert.throws(() => provider({ password: undefined }), /needs a username and password/);
  });

  it('resolves the region from latitude/longitude once', async () => {
    api.on('/v3/region-from-loc', authed({ region: 'CAISO_NORTH', region_full_name: 'California ISO Northern', signal_type: 'co2_moer' }));
    api.on('/v3/historical', authed(moer([[FIVE, 1000]])));
    const p = provider({ zone: undefined, latitude: 37.8, longitude: -122.3 });
    await p.latest(NOW);
    await p.history(NOW - 3_600_000, NOW);
    assert.equal(api.count('/v3/region-from-loc'), 1);
    assert.equal(api.requests.find((x) => x.path === '/v3/region-from-loc')!.query.get('latitude'), '37.8');
    assert.equal(p.info.zone, 'CAISO_NORTH');
  });

  it('an unknown region names the setting', async () => {
    api.on('/v3/historical', status(400, { error: 'Invalid region' }));
    await expectError(provider({ zone: 'NOWHERE' }).latest(NOW), 'unknown-zone', /does not know the region "NOWHERE" \(Invalid region\)\. Set chase\.carbon\.zone/);
  });

  it('forecast: 5-minute points converted; "not in plan" gives undefined with a notice', async () => {
    api.on('/v3/forecast', authed(moer([[FIVE + 5 * MIN, 1000], [FIVE + 10 * MIN, 500]])));
    const f = await provider().forecast(FIVE + 5 * MIN, 1);
    assert.deepEqual(f?.map((x) => Math.round(x.intensityGPerKwh * 1000) / 1000), [453.592, 226.796]);
    assert.equal(api.requests.find((x) => x.path === '/v3/forecast')!.query.get('horizon_hours'), '2', 'covers 10:10 from 09:07');
    api.on('/v3/forecast', status(403, { error: 'subscription required' }));
    const p = provider({ zone: 'PJM_DC' });
    assert.equal(await p.forecast(FIVE + 5 * MIN, 1), undefined);
    assert.match(p.notices.join(), /not in your plan/);
  });

  it('latest falls back to the forecast endpoint when history is not in the plan (marked), and explains when neither is', async () => {
    api.on('/v3/historical', status(403, { error: 'no access' }));
    api.on('/v3/forecast', authed(moer([[FIVE, 1000], [FIVE + 5 * MIN, 900]])));
    const p = provider();
    const r = await p.latest(NOW);
    assert.equal(r.timestampMs, FIVE);
    assert.match(p.notices.join(), /No measured value yet/);
    api.on('/v3/forecast', status(403, { error: 'no access' }));
    await expectError(provider({ zone: 'PJM_DC' }).latest(NOW), 'not-in-plan', /plan does not include forecast data for region PJM_DC.*CAISO_NORTH/);
  });

  it('429 with Retry-After is waited for and retried (count requests)', async () => {
    api.sequence('/v3/historical', [status(429, { error: 'rate limit' }, { 'Retry-After': '1' }), authed(moer([[FIVE, 1000]]))]);
    const r = await provider().latest(NOW);
    assert.equal(r.stale, false);
    assert.equal(api.count('/v3/historical'), 2);
  });

  it('empty data and unconvertible units are errors, not numbers', async () => {
    api.on('/v3/historical', authed(moer([])));
    await expectError(provider().latest(NOW), 'unavailable', /no recent MOER/);
    api.on('/v3/historical', authed(moer([[FIVE, 50]], 'percentile')));
    await expectError(provider().latest(NOW), 'malformed', /"percentile", which Chase cannot convert/);
  });

  it('signal index is the 0–100 percentile from /v3/signal-index', async () => {
    api.on('/v3/signal-index', authed(moer([[FIVE, 42]], 'percentile')));
    assert.deepEqual(await provider().signalIndex(), { percent: 42, timestampMs: FIVE });
  });

  it('a stale MOER point is flagged stale', async () => {
    api.on('/v3/historical', authed(moer([[NOW - 40 * MIN, 1000]])));
    const r = await provider().latest(NOW);
    assert.equal(r.stale, true);
  });

  it('the conversion constant', () => {
    assert.equal(lbsPerMwhToGPerKwh(1), 0.45359237);
    assert.equal(lbsPerMwhToGPerKwh(0), 0);
  });
});
