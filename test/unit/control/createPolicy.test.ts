/**
 * Policies by name (control/index.ts createPolicy, the one place they are built): every name a run
 * or the CLI accepts builds the policy of that name, deciding as the policy built directly does; the
 * simulator's standard set is built through it, in its order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetedPolicy, chasePaperPolicy, createPolicy, DEFAULT_ETA, energyOnlyPolicy, maxPowerPolicy, staticBestPolicy, standardPolicies, type DecisionState, type Policy } from '../../../agent/control/index';
import { persistence } from '../../../agent/forecast/types';
import { RUN_POLICY_NAMES } from '../../../agent/protocol/messages';
import { a40, HOUR_MS, T0 } from './fixtures';

const profile = a40();
const forecaster = () => persistence;
const states: DecisionState[] = [120, 480, 90, 300].map((last, i) => ({
  nowMs: T0 + (i + 24) * HOUR_MS,
  periodMs: HOUR_MS,
  history: Float64Array.from({ length: 24 + i }, (_, k) => (k === 23 + i ? last : 200 + 50 * Math.sin(k))),
  unitsDone: i * 0.5,
  unitsTotal: 10,
  elapsedMs: i * 0.5 * 3_900_000,
}));
const decisions = (p: Policy) => states.map((s) => p.decide(s));

test('every run policy name builds that policy, deciding as the policy built directly', () => {
  const direct: Record<(typeof RUN_POLICY_NAMES)[number], Policy> = {
    default: budgetedPolicy(profile, { budgetPct: 10, forecaster: persistence }),
    'max-power': maxPowerPolicy(profile),
    'static-best': staticBestPolicy(profile, { budgetPct: 10 }),
    'energy-only': energyOnlyPolicy(profile, { budgetPct: 10 }),
    'chase-paper': chasePaperPolicy(profile, { eta: DEFAULT_ETA, forecaster: persistence }),
  };
  for (const name of RUN_POLICY_NAMES) {
    const built = createPolicy(name, profile, { budgetPct: 10, forecaster });
    assert.equal(built.name, direct[name].name);
    assert.deepEqual(decisions(built), decisions(direct[name]), name);
  }
  assert.equal(createPolicy('chase-paper', profile, { budgetPct: 10, eta: 0.25, forecaster }).name, 'chase-paper-eta0.25');
});

test('the simulator\'s standard set, in its order', () => {
  assert.deepEqual(
    standardPolicies(profile, { budgetPct: 5, forecaster }).map((p) => p.name),
    ['max-power', 'static-best', 'energy-only', 'chase-paper-eta0.25', 'chase-paper-eta0.5', 'default'],
  );
});
