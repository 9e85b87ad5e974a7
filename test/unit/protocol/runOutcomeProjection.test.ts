/**
 * The projection's words (agent/protocol/runOutcome.ts), the same in the task terminal, the
 * dashboard, the status tooltip and the CLI: what the run will cost, how far off that was, a reused
 * profile, and start-time advice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { profileReuseText, projectionOutcomeText, projectionText, startAdviceText } from '../../../agent/protocol/runOutcome';
import type { RunProjection } from '../../../agent/protocol/messages';

const P: RunProjection = {
  atMs: 0, basis: 'totalUnits', unitsTotal: 4500, powerLimitMw: 200_000, energyJ: 18_720, baselineEnergyJ: 21_000,
  carbonG: 0.68, carbonLowG: 0.68, carbonHighG: 0.68, baselineCarbonG: 0.79, savedCarbonG: 0.11, savedLowG: 0.11, savedHighG: 0.11,
  slowdownPct: 9.5, finishAtMs: Date.UTC(2026, 11, 1, 13, 56, 4),
};

test('the projection: energy, carbon, saving against max power and the finish; a band only where the forecast has one', () => {
  assert.equal(projectionText(P), 'projected 0.0052 kWh, 0.68 gCO₂, saving 13.9 % (0.11 g) vs max power, done 13:56:04 UTC');
  assert.equal(projectionText({ ...P, carbonLowG: 0.6, carbonHighG: 0.8, savedLowG: 0.09, savedHighG: 0.13 }), 'projected 0.0052 kWh, 0.68 (0.60–0.80) gCO₂, saving 13.9 % (0.11 (0.09–0.13) g) vs max power, done 13:56:04 UTC');
  const horizon = projectionText({ ...P, basis: 'horizon', horizonHours: 24, finishAtMs: undefined });
  assert.match(horizon, / over the next 24 h \(no total work declared: set totalUnits\)$/);
  assert.match(projectionText({ ...P, savedCarbonG: -0.02 }), /, 0.02 g more than at max power, /);
});

test('how far off: more, less, as projected; a horizon projection is not compared with the run; none without a projection', () => {
  assert.equal(projectionOutcomeText({ carbonG: 0.75, firstProjection: P }), 'projected 0.68 gCO₂ after profiling, emitted 0.75 gCO₂: 10.3 % more than projected');
  assert.equal(projectionOutcomeText({ carbonG: 0.612, firstProjection: P }), 'projected 0.68 gCO₂ after profiling, emitted 0.61 gCO₂: 10.0 % less than projected');
  assert.equal(projectionOutcomeText({ carbonG: 0.68, firstProjection: P }), 'projected 0.68 gCO₂ after profiling, emitted 0.68 gCO₂: as projected');
  assert.match(projectionOutcomeText({ carbonG: 0.5, firstProjection: { ...P, basis: 'horizon', horizonHours: 24 } }) ?? '', /not comparable with the run's 0.50 gCO₂/);
  assert.equal(projectionOutcomeText({ carbonG: 1 }), undefined);
});

test('a reused profile is said, with its workload; a measured one is not', () => {
  assert.equal(profileReuseText({ profileSource: 'stored', workloadKey: 'train_demo.py#1da38a74' }), 'reusing the stored power profile of train_demo.py#1da38a74 — no profiling');
  assert.equal(profileReuseText({ profileSource: 'measured', workloadKey: 'k' }), undefined);
});

test('start-time advice: when, the cut and both totals', () => {
  assert.equal(
    startAdviceText({ nowCarbonG: 1.2, bestCarbonG: 0.924, cutPct: 23, startAtCarbonMs: Date.UTC(2026, 11, 2, 2, 0) }),
    'starting at 02:00 UTC instead of now would cut this run\'s projected carbon by 23.0 % (1.20 → 0.92 gCO₂)',
  );
});
