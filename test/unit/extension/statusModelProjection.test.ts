/**
 * The status bar tooltip's line per live run (extension/statusModel.ts `runLines`) carries the run's
 * projection once it has one: what the run will cost, from the first period after profiling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLines } from '../../../extension/statusModel';
import type { RunSummary } from '../../../agent/protocol/messages';

const run: RunSummary = { id: 'r', state: 'profiling', command: 'python3 train_demo.py', gpuUuids: ['g'], policy: 'default', budgetPct: 10, startedAtMs: 0, energyJ: 1000, carbonG: 0.05, unitsDone: 10 };

test('profiling: no projection yet; controlling: the projected carbon, saving and finish', () => {
  assert.equal(runLines([run]), '$(play) python3 train\\_demo.py: profiling, 0.05 gCO₂');
  const controlled = runLines([{
    ...run, state: 'controlling', currentLimitMw: 200_000, baselineCarbonG: 0.06, savedCarbonG: 0.01,
    projection: { atMs: 0, basis: 'totalUnits', unitsTotal: 4500, powerLimitMw: 200_000, energyJ: 18_720, baselineEnergyJ: 21_000, carbonG: 0.68, carbonLowG: 0.68, carbonHighG: 0.68, baselineCarbonG: 0.79, savedCarbonG: 0.11, savedLowG: 0.11, savedHighG: 0.11, slowdownPct: 9.5, finishAtMs: Date.UTC(2026, 11, 1, 13, 56, 4) },
  }]);
  assert.equal(controlled, '$(play) python3 train\\_demo.py: 200 W, 0.05 gCO₂, saved 0.01 g; projected 0.0052 kWh, 0.68 gCO₂, saving 13.9 % \\(0.11 g\\) vs max power, done 13:56:04 UTC');
});
