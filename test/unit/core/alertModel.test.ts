import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_MIN_GAP_MS, endOfLocalDay, shouldAlert, type AlertInput } from '../../../extension/alertModel';

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
