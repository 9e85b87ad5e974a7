import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatElapsed, MIN_SPAN_MS, timeAxis } from '../../../webview/model/timeAxis';

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const labels = (a: ReturnType<typeof timeAxis>) => a.ticks.map((t) => t.label);

describe('live charts\' time axis', () => {
  it('a single sample gets 0…30 s, not chart.js\'s −1…1', () => {
    const a = timeAxis(T0, T0, T0, 'since the first sample');
    assert.equal(a.minMs, T0);
    assert.equal(a.maxMs, T0 + MIN_SPAN_MS);
    assert.equal(a.title, 'seconds since the first sample');
    assert.deepEqual(labels(a), ['0', '5', '10', '15', '20', '25', '30']);
  });

  it('an 18-second run reads in seconds, not as a 0–0.09 minute axis', () => {
    const a = timeAxis(T0, T0, T0 + 18_000, 'since the run started');
    assert.equal(a.unit, 's');
    assert.ok(a.ticks.every((t) => t.valueMs >= T0 && t.valueMs <= a.maxMs));
    assert.deepEqual(labels(a), ['0', '5', '10', '15', '20', '25', '30']);
  });

  it('picks the unit and a round step by span, ends on a tick, at most 8 intervals', () => {
    const cases: Array<[number, string, string[]]> = [
      [150_000, 's', ['0', '30', '60', '90', '120', '150']],
      [4 * 60_000, 'min', ['0', '0.5', '1', '1.5', '2', '2.5', '3', '3.5', '4']],
      [10.2 * 60_000, 'min', ['0', '2', '4', '6', '8', '10', '12']],
      [100 * 60_000, 'min', ['0', '15', '30', '45', '60', '75', '90', '105']],
      [3.2 * 3_600_000, 'h', ['0', '0.5', '1', '1.5', '2', '2.5', '3', '3.5']],
      [30 * 3_600_000, 'h', ['0', '6', '12', '18', '24', '30']],
    ];
    for (const [span, unit, expected] of cases) {
      const a = timeAxis(T0, T0, T0 + span, 'x');
      assert.equal(a.unit, unit, `span ${span} ms`);
      assert.deepEqual(labels(a), expected, `span ${span} ms`);
      assert.ok(a.maxMs >= T0 + span && a.ticks.length - 1 <= 8, `span ${span} ms`);
      assert.equal(a.ticks[a.ticks.length - 1].valueMs, a.maxMs);
    }
  });

  it('keeps counting from the origin when old samples drop out of the window: the ticks stay put', () => {
    const a = timeAxis(T0, T0 + 61 * 60_000, T0 + 121 * 60_000, 'since the first sample');
    assert.equal(a.minMs, T0 + 61 * 60_000);
    assert.equal(a.unit, 'min');
    assert.deepEqual(labels(a), ['70', '80', '90', '100', '110', '120', '130']);
    assert.ok(a.ticks[0].valueMs >= a.minMs);
    const later = timeAxis(T0, T0 + 61 * 60_000 + 5000, T0 + 121 * 60_000 + 5000, 'since the first sample');
    assert.deepEqual(later.ticks.map((t) => t.valueMs), a.ticks.map((t) => t.valueMs), 'five seconds later the same ticks');
  });

  it('formats elapsed time for tooltips', () => {
    assert.deepEqual([0, 5_000, 754_000, 3_723_000].map(formatElapsed), ['0:00', '0:05', '12:34', '1:02:03']);
  });
});
