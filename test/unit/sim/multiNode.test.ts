/** The multi-node simulation behind bench/distributed: invariants that must hold whatever the trace. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runMaxPowerJob, runMultiNodeJob, type MultiNodeJob } from '../../../agent/sim/multiNode';
import { persistence } from '../../../agent/forecast/types';
import { a40, traceOf } from '../control/fixtures';

// a day of history, then a day that swings between clean and dirty hours
const trace = traceOf([...Array.from({ length: 48 }, (_, h) => 200 + 150 * Math.sin((h / 24) * 2 * Math.PI)), ...new Array(48).fill(250)]);
const profile = a40();
const job = (nodes: number, extra: Partial<MultiNodeJob> = {}): MultiNodeJob => ({ nodes, startIndex: 24, units: 4, budgetPct: 10, waitPowerMw: 75_000, forecaster: () => persistence, ...extra });
const close = (a: number, b: number, rel = 1e-9) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} ≉ ${b}`);

describe('runMultiNodeJob', () => {
  it('one node: coordinated and uncoordinated are the same job', () => {
    const c = runMultiNodeJob(trace, profile, 'coordinated', job(1));
    const u = runMultiNodeJob(trace, profile, 'uncoordinated', job(1));
    assert.deepEqual(u, c);
  });

  it('coordinated: N nodes emit N times one node\'s carbon, in the same time, with one carbon-source call per decision', () => {
    const one = runMultiNodeJob(trace, profile, 'coordinated', job(1));
    const eight = runMultiNodeJob(trace, profile, 'coordinated', job(8));
    close(eight.carbonG, 8 * one.carbonG);
    close(eight.timeS, one.timeS);
    assert.equal(eight.carbonCalls, one.carbonCalls);
    assert.equal(eight.mixedLimitsS, 0);
  });

  it('uncoordinated nodes that start at the same instant measure and decide alike: the same carbon, N times the calls', () => {
    const c = runMultiNodeJob(trace, profile, 'coordinated', job(4));
    const u = runMultiNodeJob(trace, profile, 'uncoordinated', job(4, { skewS: [0, 0, 0, 0] }));
    close(u.carbonG, c.carbonG);
    assert.equal(u.carbonCalls, 4 * c.carbonCalls);
    assert.equal(u.mixedLimitsS, 0);
  });

  it('uncoordinated nodes started seconds apart run at mixed limits, and the job pays for it; max-power is the baseline', () => {
    const base = runMaxPowerJob(profile, trace, job(4));
    const c = runMultiNodeJob(trace, profile, 'coordinated', job(4));
    const u = runMultiNodeJob(trace, profile, 'uncoordinated', job(4, { skewS: [0, 7, 14, 21] }));
    assert.ok(u.mixedLimitsS > 0);
    assert.ok(c.carbonG < base.carbonG, 'coordinated control saves carbon against max-power');
    assert.ok(c.timeS <= base.timeS * 1.1 + 60, 'within the 10 % budget (plus profiling)');
    assert.notEqual(u.carbonG, c.carbonG);
  });
});
