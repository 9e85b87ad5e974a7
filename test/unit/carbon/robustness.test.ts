/**
 * Whatever the API sends, a provider either returns a sane reading or throws a CarbonSourceError:
 * random JSON, random statuses and near-valid bodies with wrong types (fast-check).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ServerResponse } from 'node:http';
import type { ApiProvider } from '../../../agent/carbon/apiProvider';
import { ElectricityMapsProvider } from '../../../agent/carbon/electricityMaps';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { UkNesoProvider } from '../../../agent/carbon/ukNeso';
import { WattTimeProvider } from '../../../agent/carbon/wattTime';
import { FakeApi, fastHttp, json } from './fakeApi';

const NOW = Date.UTC(2026, 10, 27, 9, 20);
let api: FakeApi;
let answer: (res: ServerResponse) => void = (res) => json(res, 200, {});
before(async () => {
  api = await FakeApi.start();
});
after(async () => api.close());

const anyValue = fc.oneof(fc.jsonValue(), fc.constantFrom(null, 'x', -1, 1e308, '2026-11-27T09:00Z', [], {}));
const nearValid = fc.record({
  zone: anyValue,
  carbonIntensity: anyValue,
  datetime: anyValue,
  history: fc.array(fc.record({ carbonIntensity: anyValue, datetime: anyValue }), { maxLength: 3 }),
  forecast: fc.array(fc.record({ carbonIntensity: anyValue, datetime: anyValue }), { maxLength: 3 }),
  meta: fc.record({ units: fc.constantFrom('lbs_co2_per_mwh', 'percentile', 7) }),
  data: fc.oneof(
    fc.array(fc.record({ point_time: anyValue, value: anyValue, from: anyValue, intensity: fc.record({ forecast: anyValue, actual: anyValue }) }), { maxLength: 3 }),
    anyValue,
  ),
});
const response = fc.record({ status: fc.constantFrom(200, 200, 200, 400, 401, 403, 404, 429, 500), body: fc.oneof(nearValid, anyValue, fc.string()) });

function make(kind: string): ApiProvider {
  const deps = { now: () => NOW, http: { ...fastHttp(), retries: 0, timeoutMs: 500 } };
  if (kind === 'em') return new ElectricityMapsProvider({ token: 'tok-xyz', zone: 'DE', baseUrl: api.url, baseUrlSetBy: 'user' }, deps);
  if (kind === 'wt') return new WattTimeProvider({ username: 'u', password: 'pw-xyz', zone: 'CAISO_NORTH', baseUrl: api.url, baseUrlSetBy: 'user' }, deps);
  return new UkNesoProvider({ baseUrl: api.url }, deps);
}

describe('providers never crash on whatever the API sends', () => {
  for (const kind of ['em', 'wt', 'uk']) {
    it(kind, async () => {
      await fc.assert(
        fc.asyncProperty(response, async ({ status, body }) => {
          api.reset();
          answer = (res) => json(res, status, typeof body === 'string' ? body : JSON.stringify(body));
          api.on('/login', (_q, res) => json(res, 200, { token: 'token-1' }));
          for (const path of ['/carbon-intensity/latest', '/carbon-intensity/history', '/carbon-intensity/forecast', '/v3/historical', '/v3/forecast', '/intensity']) {
            api.on(path, (_q, res) => answer(res));
          }
          const p = make(kind);
          for (const call of [() => p.latest(NOW), () => p.history(NOW - 3_600_000, NOW), () => p.forecast(NOW, 2)]) {
            try {
              const r = await call();
              const points = r === undefined ? [] : Array.isArray(r) ? r : [r];
              for (const x of points) {
                assert.ok(Number.isFinite(x.intensityGPerKwh) && x.intensityGPerKwh >= 0, `bad value ${x.intensityGPerKwh}`);
                assert.ok(Number.isFinite(x.timestampMs));
              }
              if (r && !Array.isArray(r)) assert.equal(typeof r.stale, 'boolean');
            } catch (e) {
              if (!(e instanceof CarbonSourceError)) throw e;
              assert.ok(e.message.length > 20);
              assert.doesNotMatch(e.message, /tok-xyz|pw-xyz/);
            }
          }
        }),
        { numRuns: 25 },
      );
    });
  }
});
