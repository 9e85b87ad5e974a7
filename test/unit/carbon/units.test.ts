import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffMs, parseRetryAfter } from '../../../agent/carbon/http';
import { GRAMS_PER_POUND, lbsPerMwhToGPerKwh } from '../../../agent/carbon/wattTime';

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
const moer = fc.double({ min: 0, max: 1e5, noNaN: true });

describe('lbs/MWh → g/kWh (property tests)', () => {
  it('1 lb/MWh is 0.45359237 g/kWh', () => {
    assert.equal(GRAMS_PER_POUND, 453.59237);
    assert.equal(lbsPerMwhToGPerKwh(1), 0.45359237);
    assert.ok(close(lbsPerMwhToGPerKwh(1000), 453.59237));
  });

  it('is linear: f(a + b) = f(a) + f(b), f(k·a) = k·f(a)', () => {
    fc.assert(fc.property(moer, moer, (a, b) => close(lbsPerMwhToGPerKwh(a + b), lbsPerMwhToGPerKwh(a) + lbsPerMwhToGPerKwh(b))));
    fc.assert(fc.property(moer, fc.double({ min: 0, max: 100, noNaN: true }), (a, k) => close(lbsPerMwhToGPerKwh(k * a), k * lbsPerMwhToGPerKwh(a))));
  });

  it('is monotonic and never negative for non-negative input, and smaller than the lbs figure', () => {
    fc.assert(
      fc.property(moer, moer, (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const flo = lbsPerMwhToGPerKwh(lo);
        return flo >= 0 && flo <= lbsPerMwhToGPerKwh(hi) && flo <= lo;
      }),
    );
  });

  it('round-trips through the inverse (g/kWh → lbs/MWh)', () => {
    fc.assert(fc.property(moer, (a) => close(lbsPerMwhToGPerKwh(a) / 0.45359237, a)));
  });
});

describe('Retry-After and backoff (property tests)', () => {
  it('delta-seconds are read as whole milliseconds', () => {
    fc.assert(fc.property(fc.nat({ max: 10_000_000 }), fc.nat(), (s, now) => parseRetryAfter(String(s), now) === s * 1000));
  });

  it('HTTP dates give the non-negative time until then (second resolution)', () => {
    const t = fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => s * 1000);
    fc.assert(fc.property(t, t, (date, now) => parseRetryAfter(new Date(date).toUTCString(), now) === Math.max(0, date - now)));
  });

  it('backoff stays within 50–100 % of min(cap, base·2^n)', () => {
    fc.assert(
      fc.property(fc.nat({ max: 30 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 60_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, base, cap, r) => {
        const full = Math.min(cap, base * 2 ** n);
        const d = backoffMs(n, base, cap, () => r);
        return d >= Math.floor(full / 2) && d <= Math.ceil(full);
      }),
    );
  });
});
