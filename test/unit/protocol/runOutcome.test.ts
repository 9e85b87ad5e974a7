import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runOutcomeText, type RunOutcome } from '../../../agent/protocol/runOutcome';
import { formatAmount } from '../../../agent/protocol/format';

// The example of issue 16: a short demo run on simulated GPUs.
const demo: RunOutcome = { energyJ: 0.0021 * 3.6e6, carbonG: 0.52, baselineCarbonG: 0.614, savedCarbonG: 0.094, slowdownPct: 9.8, budgetPct: 10 };

describe('run outcome wording (task terminal, CLI, dashboard)', () => {
  it('states the saving as a percentage and in grams, and the slowdown against the budget', () =>
    assert.equal(runOutcomeText(demo), '0.0021 kWh, 0.52 gCO₂ — saved 15.3 % (0.09 g) vs max power, slowdown 9.8 % of 10 % budget'));

  it('a long run reads in whole grams, not with four decimals', () =>
    assert.equal(
      runOutcomeText({ energyJ: 7_200_000, carbonG: 250, baselineCarbonG: 290, savedCarbonG: 40, slowdownPct: 2.4, budgetPct: 2.5 }),
      '2.00 kWh, 250 gCO₂ — saved 13.8 % (40.0 g) vs max power, slowdown 2.4 % of 2.5 % budget',
    ));

  it('says the saving is unknown without a power profile, and leaves out an unknown slowdown', () =>
    assert.equal(runOutcomeText({ energyJ: 5400, carbonG: 0.3, budgetPct: 2.5 }), '0.0015 kWh, 0.30 gCO₂ — saving not known yet (no power profile for this workload)'));

  it('a run that emitted more than at max power says so instead of "saved −x %"', () =>
    assert.equal(runOutcomeText({ ...demo, carbonG: 0.65, savedCarbonG: -0.036 }), '0.0021 kWh, 0.65 gCO₂ — 5.9 % (0.04 g) more than at max power, slowdown 9.8 % of 10 % budget'));

  it('amounts keep about two significant digits when small and never use exponent notation', () => {
    assert.deepEqual([0, 0.0021, 0.00042, 0.094, 0.52, 9.99, 12.34, 250.4, 1e-9].map(formatAmount), ['0.00', '0.0021', '0.00042', '0.09', '0.52', '9.99', '12.3', '250', '0.000000']);
  });
});
