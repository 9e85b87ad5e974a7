import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HttpClient, HttpStatusError, JsonReader, parseRetryAfter, redact } from '../../../agent/carbon/http';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { FakeApi, fastHttp, hang, huge, json, malformed, ok, status } from './fakeApi';

let api: FakeApi;
before(async () => (api = await FakeApi.start()));
after(async () => api.close());
beforeEach(() => api.reset());

function client(sleeps: number[] = [], extra: Record<string, unknown> = {}) {
  return new HttpClient({ baseUrl: api.url, service: 'Test API', secrets: () => ['s3cret-token'], ...fastHttp(sleeps), ...extra });
}

async function rejects(p: Promise<unknown>, kind: CarbonSourceError['kind'], pattern: RegExp): Promise<CarbonSourceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CarbonSourceError, `expected a CarbonSourceError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('HttpClient', () => {
  it('returns parsed JSON and sends params', async () => {
    api.on('/v3/x', (req, res) => json(res, 200, { zone: req.query.get('zone') }));
    assert.deepEqual(await client().getJson('/v3/x', { params: { zone: 'DE', skip: undefined } }), { zone: 'DE' });
    assert.equal(api.requests[0].query.has('skip'), false);
  });

  it('retries 500s with backoff and succeeds (counts requests)', async () => {
    const sleeps: number[] = [];
    api.sequence('/x', [status(500), status(503), ok({ v: 1 })]);
    assert.deepEqual(await client(sleeps).getJson('x'), { v: 1 });
    assert.equal(api.count('/x'), 3);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[1] > sleeps[0], 'exponential backoff grows');
  });

  it('gives up after the retries on persistent 5xx, with an actionable message', async () => {
    api.on('/x', status(502));
    await rejects(client().getJson('x'), 'unavailable', /having problems \(HTTP 502 from 127\.0\.0\.1:\d+, 3 attempts\)/);
    assert.equal(api.count('/x'), 3);
  });

  it('honours Retry-After in seconds on 429', async () => {
    const sleeps: number[] = [];
    api.sequence('/x', [status(429, { error: 'slow down' }, { 'Retry-After': '2' }), ok({ v: 2 })]);
    assert.deepEqual(await client(sleeps).getJson('x'), { v: 2 });
    assert.deepEqual(sleeps, [2000]);
    assert.equal(api.count('/x'), 2);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const sleeps: number[] = [];
    const now = Date.UTC(2026, 0, 1, 12);
    api.sequence('/x', [status(429, {}, { 'Retry-After': new Date(now + 5000).toUTCString() }), ok({ v: 3 })]);
    assert.deepEqual(await client(sleeps, { now: () => now }).getJson('x'), { v: 3 });
    assert.deepEqual(sleeps, [5000]);
  });

  it('does not wait for a Retry-After beyond the cap: fails at once saying when, then fails fast without requests', async () => {
    const now = Date.UTC(2026, 0, 1, 12);
    api.on('/x', status(429, {}, { 'Retry-After': '3600' }));
    const c = client([], { now: () => now, maxRetryAfterMs: 10_000 });
    await rejects(c.getJson('x'), 'rate-limited', /rate-limiting.*after 2026-01-01 13:00 UTC \(in 60 min\)/);
    assert.equal(api.count('/x'), 1);
    await rejects(c.getJson('x'), 'rate-limited', /after 2026-01-01 13:00 UTC/);
    assert.equal(api.count('/x'), 1, 'no request while rate-limited');
  });

  it('reports persistent 429 without Retry-After as rate-limited', async () => {
    api.on('/x', status(429));
    await rejects(client().getJson('x'), 'rate-limited', /HTTP 429/);
    assert.equal(api.count('/x'), 3);
  });

  it('times out, retries, then reports the host', async () => {
    api.on('/x', hang);
    const t0 = Date.now();
    await rejects(client([], { timeoutMs: 100, retries: 1 }).getJson('x'), 'unavailable', /at 127\.0\.0\.1:\d+ did not answer within 100 ms/);
    assert.equal(api.count('/x'), 2);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('stops retrying when another attempt would end past maxTotalMs', async () => {
    api.on('/x', hang);
    await rejects(client([], { timeoutMs: 100, retries: 5, maxTotalMs: 250 }).getJson('x'), 'unavailable', /did not answer/);
    assert.equal(api.count('/x'), 2);
  });

  it('reports an unreachable host by name', async () => {
    const c = new HttpClient({ baseUrl: 'http://127.0.0.1:9', service: 'Test API', ...fastHttp(), retries: 0 });
    await rejects(c.getJson('x'), 'unavailable', /Cannot reach Test API at 127\.0\.0\.1:9 \(ECONNREFUSED\)/);
  });

  it('rejects malformed JSON without retrying', async () => {
    api.on('/x', malformed);
    await rejects(client().getJson('x'), 'malformed', /not valid JSON/);
    assert.equal(api.count('/x'), 1);
  });

  it('rejects a huge body', async () => {
    api.on('/x', huge(200_000));
    await rejects(client([], { maxResponseBytes: 50_000 }).getJson('x'), 'malformed', /larger than 49 KiB/);
  });

  it('maps other statuses to HttpStatusError with the API message, redacting secrets', async () => {
    api.on('/x', status(401, { error: 'bad token s3cret-token' }));
    const e = await rejects(client().getJson('x'), 'auth', /HTTP 401/);
    assert.ok(e instanceof HttpStatusError);
    assert.equal(e.status, 401);
    assert.equal(e.apiMessage, 'bad token ***');
    assert.doesNotMatch(e.message, /s3cret/);
    assert.equal(api.count('/x'), 1, '4xx is not retried');
  });

  it('rejects a base URL that is not a URL', () => {
    assert.throws(() => new HttpClient({ baseUrl: 'not a url', service: 'T' }), (e: unknown) => e instanceof CarbonSourceError && e.kind === 'invalid-settings');
  });
});

describe('parseRetryAfter / redact / JsonReader', () => {
  it('parses seconds, dates, and ignores junk', () => {
    assert.equal(parseRetryAfter('7', 0), 7000);
    assert.equal(parseRetryAfter(['3'], 0), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4000), 6000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 20_000), 0);
    assert.equal(parseRetryAfter('soon', 0), undefined);
    assert.equal(parseRetryAfter(undefined, 0), undefined);
  });

  it('redacts every occurrence and ignores short or empty secrets', () => {
    assert.equal(redact('a KEY123 b KEY123', ['KEY123', undefined, 'ab']), 'a *** b ***');
  });

  it('names the path and what it found on a wrong type', () => {
    const r = new JsonReader('Svc', { history: [{ carbonIntensity: 'high' }] });
    assert.throws(
      () => r.get('history').items()[0].get('carbonIntensity').number(),
      (e: unknown) => e instanceof CarbonSourceError && e.kind === 'malformed' && /response\.history\[0\]\.carbonIntensity should be a number but is "high"/.test(e.message),
    );
    assert.throws(() => new JsonReader('Svc', null).get('x'), /should be an object but is null/);
    assert.throws(() => new JsonReader('Svc', { t: 'yesterday' }).get('t').time(), /ISO-8601/);
    assert.throws(() => new JsonReader('Svc', -3).intensity(), /plausible intensity/);
    assert.throws(() => new JsonReader('Svc', 1e308).intensity(), /plausible intensity/);
  });
});
