/** How quantities read (agent/protocol/format.ts): the same text in the CLI, the status bar and the dashboard. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatAmount,
  formatCarbon,
  formatGrams,
  formatIntensity,
  formatKwh,
  formatPct,
  formatUtc,
  formatUtcClock,
  formatUtcDateTime,
  formatWatts,
  formatWh,
  INTENSITY_UNIT,
} from '../../../agent/protocol/format';

const T = Date.UTC(2026, 10, 27, 9, 30, 15, 250);

describe('format', () => {
  it('power from the wire\'s mW: whole watts, or the decimals asked for', () => {
    assert.equal(formatWatts(225_000), '225 W');
    assert.equal(formatWatts(244_261), '244 W');
    assert.equal(formatWatts(72_450, 1), '72.5 W');
  });

  it('energy from J: kWh and Wh with about two significant digits where small', () => {
    assert.equal(formatKwh(0.0021 * 3.6e6), '0.0021 kWh');
    assert.equal(formatKwh(2 * 3.6e6), '2.00 kWh');
    assert.equal(formatWh(3600 * 0.123), '0.12 Wh');
    assert.equal(formatWh(3600 * 250), '250 Wh');
  });

  it('carbon: gCO₂ for emissions, g where the sentence already says CO₂', () => {
    assert.equal(formatCarbon(0.52), '0.52 gCO₂');
    assert.equal(formatCarbon(75.4), '75.4 gCO₂');
    assert.equal(formatGrams(0.0071), '0.0071 g');
    assert.equal(formatGrams(-0.09), '-0.09 g');
    assert.equal(formatAmount(0), '0.00');
    assert.equal(formatAmount(1e-9), '0.000000', 'never exponent notation');
  });

  it('intensity: whole grams from 100 up, one decimal below; percentages', () => {
    assert.equal(`${formatIntensity(282.3)} ${INTENSITY_UNIT}`, '282 gCO₂/kWh');
    assert.equal(formatIntensity(3.61), '3.6');
    assert.equal(formatPct(15.349), '15.3 %');
    assert.equal(formatPct(2.4567, 2), '2.46 %');
  });

  it('UTC times: date and minute (with "UTC", or under a header that says it), seconds, time of day', () => {
    assert.equal(formatUtc(T), '2026-11-27 09:30 UTC');
    assert.equal(formatUtcDateTime(T), '2026-11-27 09:30');
    assert.equal(formatUtcDateTime(T, { seconds: true }), '2026-11-27 09:30:15');
    assert.equal(formatUtcClock(T), '09:30');
  });
});
