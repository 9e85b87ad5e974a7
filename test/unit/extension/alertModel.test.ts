import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_MIN_GAP_MS, CarbonAlertRules, cleanerWindow, endOfLocalDay, shouldAlert, type AlertInput } from '../../../extension/alertModel';
import { PerReading, type ClientState } from '../../../extension/statusModel';
import type { CarbonSourceInfo, ForecastPoint, IntensitySeriesParams, RunSummary } from '../../../agent/protocol/messages';

const base: AlertInput = { previousLevel: 'medium', level: 'high', liveRuns: 1, nowMs: 1_000_000_000_000, lastAlertMs: undefined, mutedUntilMs: undefined };

describe('carbon alerts', () => {
  it('fire when the grid crosses into high while a run is live', () => assert.equal(shouldAlert(base), true));
  it('not without a live run', () => assert.equal(shouldAlert({ ...base, liveRuns: 0 }), false));
  it('not while it stays high (crossing only)', () => assert.equal(shouldAlert({ ...base, previousLevel: 'high' }), false));
  it('not for medium or low', () => assert.equal(shouldAlert({ ...base, level: 'medium' }), false));
  it('at most once an hour', () => {
    assert.equal(shouldAlert({ ...base, lastAlertMs: base.nowMs - ALERT_MIN_GAP_MS + 1 }), false);
    assert.equal(shouldAlert({ ...base, lastAlertMs: base.nowMs - ALERT_MIN_GAP_MS }), true);
  });
  it('"Mute for today" holds until local midnight', () => {
    const until = endOfLocalDay(base.nowMs);
    assert.ok(until > base.nowMs && until - base.nowMs <= 24 * 3600_000);
    assert.equal(new Date(until).getHours(), 0);
    assert.equal(shouldAlert({ ...base, mutedUntilMs: until }), false);
    assert.equal(shouldAlert({ ...base, nowMs: until, mutedUntilMs: until }), true);
  });
});

describe('cleaner window soon', () => {
  const levels = { lowBelowGPerKwh: 100, highAboveGPerKwh: 200, basis: 't' };
  const h = 3_600_000;
  const next = [150, 120, 90, 80].map((v, i) => ({ timestampMs: (i + 1) * h, intensityGPerKwh: v }));
  it('finds the first low period in the next hours', () => assert.equal(cleanerWindow('high', levels, next, 0)?.timestampMs, 3 * h));
  it('nothing when it is already low, or no levels are known', () => {
    assert.equal(cleanerWindow('low', levels, next, 0), undefined);
    assert.equal(cleanerWindow('high', undefined, next, 0), undefined);
  });
  it('looks only 6 hours ahead', () => assert.equal(cleanerWindow('medium', levels, next.map((p) => ({ ...p, timestampMs: p.timestampMs + 5 * h })), 0), undefined));
});

describe('alert rules fed by the client state', () => {
  const h = 3_600_000;
  const t0 = Date.UTC(2026, 10, 27, 8);
  const source: CarbonSourceInfo = { kind: 'replay', label: 'replay GB 2023', zone: 'GB', signal: 'average', attribution: 'x' };
  const levels = { lowBelowGPerKwh: 100, highAboveGPerKwh: 200, basis: 't' };
  const run: RunSummary = { id: 'r1', state: 'controlling', command: 'python3 train.py', gpuUuids: ['G'], policy: 'default', budgetPct: 2.5, startedAtMs: t0, energyJ: 1, carbonG: 1, unitsDone: 1 };
  /** A medium reading of the period starting at `periodStartMs`, as the agent pushes it (again on every GPU or staleness change). */
  const reading = (periodStartMs: number, over: Partial<CarbonSourceInfo> = {}, fetchedAtMs = periodStartMs): ClientState => ({
    kind: 'running',
    carbon: { state: 'ok', source: { ...source, ...over }, intensityGPerKwh: 150, timestampMs: periodStartMs, periodMs: h, fetchedAtMs, stale: false, levels },
  });
  function rulesWith(forecast: (nowMs: number) => ForecastPoint[]) {
    const requests: IntensitySeriesParams[] = [];
    const notes: string[] = [];
    let now = t0;
    let noted: () => void = () => undefined;
    const rules = new CarbonAlertRules({
      intensitySeries: async (params) => {
        requests.push(params);
        return { source, nowMs: now, actual: [], forecast: forecast(now), forecastModel: 'trace' };
      },
      liveRuns: () => [run],
      thresholds: () => undefined,
      mutedUntilMs: () => undefined,
      nowMs: () => now,
      notify: (m) => {
        notes.push(m);
        noted();
      },
    });
    return { rules, requests, notes, setNow: (ms: number) => (now = ms), nextNote: () => new Promise<void>((resolve) => (noted = resolve)) };
  }

  it('asks for the 6-hour forecast once per reading, not on every state change of that reading', () => {
    const { rules, requests } = rulesWith(() => []); // nothing cleaner ahead: no alert, so every change would look again
    for (let i = 0; i < 10; i++) rules.onState(reading(t0, {}, t0 + i * 5_000)); // e.g. GPU samples every 5 s
    assert.equal(requests.length, 1, `${requests.length} forecast requests for one reading`);
    assert.deepEqual(requests[0], { pastHours: 0, futureHours: 6 });
    rules.onState(reading(t0 + h)); // the next period
    rules.onState(reading(t0 + h));
    rules.onState(reading(t0 + h, { label: 'replay DE 2023', zone: 'DE' })); // another source, same period
    assert.equal(requests.length, 3);
  });

  it('still finds a cleaner window from the forecast it already has', async () => {
    const { rules, requests, notes, nextNote } = rulesWith((now) => [{ timestampMs: now + 2 * h, intensityGPerKwh: 80 }]);
    const note = nextNote();
    rules.onState(reading(t0));
    await note;
    rules.onState(reading(t0, {}, t0 + 5_000));
    assert.equal(requests.length, 1);
    assert.equal(notes.length, 1);
    assert.match(notes[0], /cleaner window is expected at 10:00 UTC \(80.0 gCO₂\/kWh, low for GB\)/);
  });

  it('a failed request is not repeated within its reading; the next reading asks again', async () => {
    let calls = 0;
    const cache = new PerReading<number>(() => {
      calls++;
      return Promise.reject(new Error('agent restarting'));
    });
    const first = reading(t0);
    if (first.kind !== 'running') throw new Error('unreachable');
    assert.equal(await cache.get(first.carbon), undefined);
    assert.equal(await cache.get(first.carbon), undefined);
    assert.equal(calls, 1);
    const next = reading(t0 + h);
    if (next.kind !== 'running') throw new Error('unreachable');
    await cache.get(next.carbon);
    assert.equal(calls, 2);
    assert.equal(cache.get({ state: 'error', code: 3002, message: 'no data' }), undefined, 'no reading, nothing asked');
    assert.equal(calls, 2);
  });
});
