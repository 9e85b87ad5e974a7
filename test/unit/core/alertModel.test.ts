import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_MIN_GAP_MS, cleanerWindow, endOfLocalDay, shouldAlert, type AlertInput } from '../../../extension/alertModel';

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
