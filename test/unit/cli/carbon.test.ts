import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCarbonArgs, runCarbon } from '../../../agent/cli/carbon';
import { UsageError } from '../../../agent/cli/command';
import { commands } from '../../../agent/cli/commands';
import { secretsFromEnv } from '../../../agent/carbon/secrets';
import { FakeApi, iso, json, ok, status } from '../carbon/fakeApi';

const NOW = Date.UTC(2026, 10, 27, 9, 20);
const HOUR_START = Date.UTC(2026, 10, 27, 9);

let api: FakeApi;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());
beforeEach(() => api.reset());

async function run(argv: string[], env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runCarbon(argv, { out: (t) => (out += t), err: (t) => (err += t), env, now: () => NOW });
  return { code, out, err };
}

describe('chase-agent carbon', () => {
  it('is registered', () => {
    assert.ok(commands.some((c) => c.name === 'carbon'));
  });

  it('replay by default: the reading and the next hours', async () => {
    const { code, out } = await run(['--hours', '3']);
    assert.equal(code, 0);
    assert.match(out, /^Source: {3}replay GB 2023 \(average signal, zone GB\)/);
    assert.match(out, /Now: +\d+ g\/kWh for the period from 2026-11-27 09:00 UTC/);
    assert.equal(out.match(/^ {2}2026-11-27 1\d:00 UTC +\d+ g\/kWh$/gm)?.length, 3);
  });

  it('--json', async () => {
    const { code, out } = await run(['--json', '--zone', 'DE-LU', '--hours=2']);
    assert.equal(code, 0);
    const j = JSON.parse(out) as { source: { kind: string }; reading: { stale: boolean }; forecast: unknown[] };
    assert.equal(j.source.kind, 'replay');
    assert.equal(j.reading.stale, false);
    assert.equal(j.forecast.length, 2);
  });

  it('electricitymaps with the token from the environment; a forecast not in the plan is said so', async () => {
    api.on('/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 250, datetime: iso(HOUR_START) }));
    api.on('/carbon-intensity/forecast', status(403, { error: 'not in your plan' }));
    const { code, out } = await run(['--provider', 'electricitymaps', '--zone', 'DE', '--base-url', api.url], { CHASE_ELECTRICITYMAPS_TOKEN: 'tok-abcdef' });
    assert.equal(code, 0, out);
    assert.match(out, /Now: +250 g\/kWh/);
    assert.match(out, /Note: +Electricity Maps' forecast is not in your plan/);
    assert.match(out, /has no forecast for this account or zone/);
    assert.equal(api.requests[0].headers['auth-token'], 'tok-abcdef');
    assert.doesNotMatch(out, /tok-abcdef/);
  });

  it('--hours N prints N whole hourly rows for a half-hourly source (not N+1 partial ones)', async () => {
    api.on('/intensity', ok({ data: [{ from: '2026-11-27T09:00Z', to: '2026-11-27T09:30Z', intensity: { forecast: 200, actual: 190, index: 'moderate' } }] }));
    // fw48h from any start: 96 half-hour windows, forecast 100 + the half hour's index
    api.onMatch(/^\/intensity\/[^/]+Z\/fw48h$/, (req, res) => {
      const from = Date.parse(req.path.split('/')[2] ?? '');
      const data = Array.from({ length: 96 }, (_, i) => ({ from: iso(from + i * 1_800_000).slice(0, 16) + 'Z', to: iso(from + (i + 1) * 1_800_000).slice(0, 16) + 'Z', intensity: { forecast: 100 + i, actual: null, index: 'low' } }));
      json(res, 200, { data });
    });
    const { code, out } = await run(['--provider', 'uk-neso', '--hours', '3', '--base-url', api.url]);
    assert.equal(code, 0, out);
    const rows = out.match(/^ {2}2026-11-27 \d\d:\d\d UTC +\d+ g\/kWh$/gm) ?? [];
    assert.deepEqual(rows.map((r) => r.trim().slice(11, 16)), ['10:00', '11:00', '12:00'], out);
    assert.match(rows[0] ?? '', / 101 g\/kWh$/, 'the mean of 10:00 and 10:30 (100, 101 → 100.5, rounded)');
  });

  it('emission factors: direct unless --emission says otherwise, as in the extension (one default)', async () => {
    api.on('/carbon-intensity/latest', ok({ zone: 'DE', carbonIntensity: 250, datetime: iso(HOUR_START) }));
    api.on('/carbon-intensity/forecast', status(403, { error: 'not in your plan' }));
    const env = { CHASE_ELECTRICITYMAPS_TOKEN: 'tok-abcdef' };
    assert.equal((await run(['--provider', 'electricitymaps', '--zone', 'DE', '--hours', '0', '--base-url', api.url], env)).code, 0);
    assert.equal(api.requests.at(-1)?.query.get('emissionFactorType'), 'direct');
    assert.equal((await run(['--provider', 'electricitymaps', '--zone', 'DE', '--hours', '0', '--emission', 'lifecycle', '--base-url', api.url], env)).code, 0);
    assert.equal(api.requests.at(-1)?.query.get('emissionFactorType'), 'lifecycle');
  });

  it('an unusable source exits 1 with the message on stderr', async () => {
    const { code, out, err } = await run(['--provider', 'electricitymaps', '--base-url', api.url]);
    assert.equal(code, 1);
    assert.equal(out, '');
    assert.match(err, /needs an API token.*CHASE_ELECTRICITYMAPS_TOKEN/);
    api.on('/carbon-intensity/latest', status(401, { error: 'bad' }));
    const r = await run(['--provider', 'electricitymaps', '--zone', 'DE', '--base-url', api.url, '--timeout-ms', '500'], { CHASE_ELECTRICITYMAPS_TOKEN: 'tok-abcdef' });
    assert.equal(r.code, 1);
    assert.match(r.err, /rejected the API token \(401\)/);
    assert.doesNotMatch(r.err, /tok-abcdef/);
  });

  it('usage errors', () => {
    assert.throws(() => parseCarbonArgs(['--provider', 'nope']), UsageError);
    assert.throws(() => parseCarbonArgs(['--lat', '1']), /--lat and --lon go together/);
    assert.throws(() => parseCarbonArgs(['--bogus', '1']), /unknown option --bogus/);
    assert.throws(() => parseCarbonArgs(['--zone']), /needs a value/);
    assert.throws(() => parseCarbonArgs(['--hours', '500']), /--hours must be a number ≥ 0 and ≤ 72/);
    assert.equal(parseCarbonArgs(['--provider', 'watttime']).settings.zone, 'CAISO_NORTH');
    assert.deepEqual(parseCarbonArgs(['--provider', 'uk-neso', '--postcode', 'RG10']).settings.ukPostcode, 'RG10');
  });
});

describe('secretsFromEnv', () => {
  it('reads the three variables, trimmed, skipping empty ones', () => {
    assert.deepEqual(secretsFromEnv({ CHASE_ELECTRICITYMAPS_TOKEN: ' t1 ', CHASE_WATTTIME_USERNAME: 'u', CHASE_WATTTIME_PASSWORD: '', OTHER: 'x' }), {
      electricityMapsToken: 't1',
      wattTimeUsername: 'u',
    });
    assert.deepEqual(secretsFromEnv({}), {});
  });
});



