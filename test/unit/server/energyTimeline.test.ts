import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { energyAt, energyBetween, type TimelineSample } from '../../../agent/server/energyTimeline';

/** 250 W for 10 s, sampled each second: counters in mJ. */
const steady: TimelineSample[] = Array.from({ length: 11 }, (_, i) => ({ atMs: i * 1000, totalMj: i * 250_000 }));

describe('energy timeline', () => {
  it('interpolates the counter between samples, nothing outside them', () => {
    assert.equal(energyAt(steady, 2500), 625_000);
    assert.equal(energyAt(steady, -1), undefined);
    assert.equal(energyAt(steady, 10_001), undefined);
  });

  it('energy between two times; carbon at each interval\'s own intensity', () => {
    const r = energyBetween(steady, 2000, 6000, (t) => (t < 4000 ? 100 : 300));
    assert.equal(r.energyJ, 1000);
    assert.equal(r.coveredMs, 4000);
    // 500 J at 100 g/kWh + 500 J at 300 g/kWh
    assert.ok(Math.abs(r.carbonG - (500 / 3.6e6) * 100 - (500 / 3.6e6) * 300) < 1e-12);
  });

  it('an interval outside the record has no energy and no coverage', () => {
    assert.deepEqual(energyBetween(steady, 20_000, 30_000, () => 100), { energyJ: 0, carbonG: 0, coveredMs: 0 });
  });

  it('energy and carbon are additive over adjacent intervals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (a, b, c) => {
        const [x, y, z] = [a, b, c].sort((p, q) => p - q);
        if (!(y > x && z > y)) return;
        const ci = (t: number) => 100 + (t % 3000) / 10;
        const whole = energyBetween(steady, x, z, ci);
        const first = energyBetween(steady, x, y, ci);
        const second = energyBetween(steady, y, z, ci);
        assert.ok(Math.abs(whole.energyJ - first.energyJ - second.energyJ) < 1e-6);
        assert.ok(Math.abs(whole.carbonG - first.carbonG - second.carbonG) < 1e-3 * Math.max(1e-9, whole.carbonG) + 1e-12);
      }),
    );
  });
});
