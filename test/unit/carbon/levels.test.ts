import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { levelsFrom, percentile, trendOf } from '../../../agent/carbon/levels';
import { effectiveLevels, levelOf, statusView } from '../../../extension/statusModel';
import { loadTrace } from '../../../agent/carbon/trace';
import { join } from 'node:path';

const traces = join(__dirname, '..', '..', '..', '..', 'agent', 'carbon', 'traces');

describe('grid-relative levels', () => {
  it('percentile interpolates and ignores non-finite values', () => {
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
    assert.equal(percentile([10, 20], 25), 12.5);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.equal(percentile([NaN, 7], 90), 7);
  });

  it('percentiles are monotone in p and stay within the data', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (xs, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        assert.ok(percentile(xs, lo) <= percentile(xs, hi) + 1e-9);
        assert.ok(percentile(xs, lo) >= Math.min(...xs) - 1e-9 && percentile(xs, hi) <= Math.max(...xs) + 1e-9);
      }),
    );
  });

  it('thresholds differ by grid: a German "low" is a British "high" (real 2023 traces)', () => {
    const month = (zone: string) => loadTrace(join(traces, `${zone}_2023_hourly.csv`)).intensitiesGPerKwh.subarray(0, 30 * 24);
    const gb = levelsFrom(month('GB'))!;
    const de = levelsFrom(month('DE-LU'))!;
    assert.ok(gb.highAboveGPerKwh < de.lowBelowGPerKwh, `GB high ${gb.highAboveGPerKwh} vs DE low ${de.lowBelowGPerKwh}`);
    assert.equal(levelOf(200, gb), 'high');
    assert.equal(levelOf(200, de), 'low');
  });

  it('needs a day of readings', () => {
    assert.equal(levelsFrom(new Array(23).fill(100)), undefined);
  });

  it('trend: ±3 % is steady', () => {
    assert.equal(trendOf(100, 104), 'rising');
    assert.equal(trendOf(100, 96), 'falling');
    assert.equal(trendOf(100, 102), 'steady');
    assert.equal(trendOf(100, undefined), undefined);
  });

  it('the status bar shows the trend arrow and the level, but neither on a stale reading', () => {
    const source = { kind: 'replay' as const, label: 'replay GB 2023', zone: 'GB', signal: 'average' as const, attribution: 'x' };
    const base = { state: 'ok' as const, source, intensityGPerKwh: 250, timestampMs: 0, periodMs: 3_600_000, fetchedAtMs: 0, stale: false, trend: 'rising' as const, levels: { lowBelowGPerKwh: 100, highAboveGPerKwh: 200, basis: 'test' } };
    const fresh = statusView({ kind: 'running', carbon: base });
    assert.match(fresh.text, /250 gCO₂\/kWh \$\(arrow-up\)/);
    assert.equal(fresh.level, 'high');
    assert.match(fresh.tooltipMarkdown, /Level: \*\*high\*\*/);
    const stale = statusView({ kind: 'running', carbon: { ...base, stale: true } });
    assert.doesNotMatch(stale.text, /arrow/);
    assert.equal(stale.level, undefined);
  });
});

describe('user-set level thresholds', () => {
  const grid = { lowBelowGPerKwh: 100, highAboveGPerKwh: 200, basis: 'percentiles 33/67 of the last 30 days' };
  it('replace the grid\'s percentiles where set, one side alone or both', () => {
    assert.deepEqual(effectiveLevels(grid, undefined), grid);
    const high = effectiveLevels(grid, { highAboveGPerKwh: 150 })!;
    assert.equal(high.lowBelowGPerKwh, 100);
    assert.equal(high.highAboveGPerKwh, 150);
    assert.match(high.basis, /your chase\.statusBar settings/);
    assert.equal(levelOf(170, high), 'high');
    assert.deepEqual(effectiveLevels(undefined, { lowBelowGPerKwh: 50, highAboveGPerKwh: 300 })?.highAboveGPerKwh, 300);
    assert.equal(effectiveLevels(undefined, { lowBelowGPerKwh: 50 }), undefined, 'half a threshold and no grid data: no levels');
  });
  it('the status bar colours by the user\'s thresholds', () => {
    const source = { kind: 'replay' as const, label: 'replay GB 2023', zone: 'GB', signal: 'average' as const, attribution: 'x' };
    const carbon = { state: 'ok' as const, source, intensityGPerKwh: 170, timestampMs: 0, periodMs: 3_600_000, fetchedAtMs: 0, stale: false, levels: grid };
    assert.equal(statusView({ kind: 'running', carbon }).level, 'medium');
    assert.equal(statusView({ kind: 'running', carbon }, { thresholds: { highAboveGPerKwh: 150 } }).level, 'high');
  });
});
