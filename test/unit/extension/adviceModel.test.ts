/**
 * Start-time advice: said only when the agent has some, the cut is above the user's threshold and
 * the better start is still ahead — the same words in the task terminal and on the dashboard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adviceToShow } from '../../../extension/adviceModel';
import type { StartAdviceResult } from '../../../agent/protocol/messages';

const NOW_MS = Date.UTC(2026, 11, 1, 14, 0);
const result = (cutPct: number, startAtMs = NOW_MS + 3 * 3_600_000): StartAdviceResult => ({
  basis: 'the stored profile and totalUnits',
  advice: { nowCarbonG: 1.2, bestCarbonG: 1.2 * (1 - cutPct / 100), cutPct, startAtMs, startAtCarbonMs: Date.UTC(2023, 3, 16, 2, 0) },
});

test('advice above the threshold is said with its numbers, the later start in the carbon clock, and its basis', () => {
  const a = adviceToShow(result(23), 10, NOW_MS);
  assert.ok(a);
  assert.equal(a.text, "starting at 02:00 UTC instead of now would cut this run's projected carbon by 23.0 % (1.20 → 0.92 gCO₂)");
  assert.equal(a.startAtText, '02:00 UTC');
  assert.equal(a.basis, 'the stored profile and totalUnits');
  assert.equal(a.startAtMs, NOW_MS + 3 * 3_600_000);
});

test('nothing is said at or below the threshold, for a start already past, or without advice', () => {
  assert.equal(adviceToShow(result(10), 10, NOW_MS), undefined, 'exactly the threshold is not "more than"');
  assert.equal(adviceToShow(result(5), 10, NOW_MS), undefined);
  assert.equal(adviceToShow(result(30, NOW_MS), 10, NOW_MS), undefined, 'a start now is no advice');
  assert.equal(adviceToShow({ unavailable: 'no stored power profile for this workload yet' }, 10, NOW_MS), undefined);
  assert.equal(adviceToShow(undefined, 10, NOW_MS), undefined, 'the agent did not answer');
});

test('a missing basis reads as the stored profile', () => {
  const { basis: _omitted, ...withoutBasis } = result(40);
  assert.equal(adviceToShow(withoutBasis, 10, NOW_MS)?.basis, 'the stored profile');
});
