import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { budgetedPolicy, chasePaperPolicy, energyOnlyPolicy, maxPowerPolicy, staticBestPolicy, type DecisionState, type Policy } from '../../../agent/control/policy';
import { jobStarts, runJob, runOracleJob, simulate } from '../../../agent/sim/simulate';
import { simulateCommand } from '../../../agent/cli/simulate';
import { persistence, type Forecaster } from '../../../agent/forecast/types';
import { A40_RESNET50_B128_CSV, HOUR_MS, T0, a40, kwh, traceOf } from '../control/fixtures';

const close = (a: number, b: number, rel: number) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} ≉ ${b}`);

describe('simulator (golden, constant 100 g/kWh, 20 epochs of A40 ResNet-50 b128)', () => {
  const p = a40();
  const trace = traceOf(new Array(24 * 4).fill(100));
  const job = { startIndex: 24, units: 20 };
  it('max-power: 20 × 3739.5 s at 244.26 W', () => {
    const r = runJob(trace, p, maxPowerPolicy(p), job);
    close(r.timeS, 74_790, 1e-12);
    close(r.energyJ / 3.6e6, kwh(244.26058546458663, 74_790), 1e-12); // 5.0745 kWh
    close(r.carbonG, 100 * kwh(244.26058546458663, 74_790), 1e-12); // 507.45 g, the last hour pro rata
  });
  it('static-best at 2.5 %: 250 W, 1.73 % slower, 9.95 % less carbon', () => {
    const r = runJob(trace, p, staticBestPolicy(p, { budgetPct: 2.5 }), job);
    close(r.timeS, 20 * 3804.21, 1e-12);
    close(r.carbonG, 100 * kwh(216.21927459289037, 20 * 3804.21), 1e-12); // 456.97 g
  });
  it('oracle and energy-only at 2.5 %: time-sharing 225 W and 250 W fills 76 659.75 s', () => {
    // x s at 250 W and (T − x) s at 225 W with x/3804.21 + (T − x)/3862.42 = 20 epochs:
    // x = 38 470.16 s, T − x = 38 189.59 s, energy 4.41502 kWh (−13.00 % against 5.07451 kWh).
    const oracle = runOracleJob(trace, p, job, 2.5);
    close(oracle.timeS, 76_659.75, 1e-9);
    close(oracle.energyJ / 3.6e6, 4.415022520409014, 1e-9);
    close(oracle.carbonG, 441.5022520409014, 1e-9);
    // energy-only picks one real limit per hour (5 W steps): within 0.1 % of the time-shared optimum
    const eo = runJob(trace, p, energyOnlyPolicy(p, { budgetPct: 2.5 }), job);
    assert.ok(eo.timeS <= 76_659.75 + 1e-6);
    close(eo.carbonG, 441.5022520409014, 1e-3);
  });
  it('oracle at 10 %: all at 200 W (least energy per epoch), finishing early at 6.76 %', () => {
    const r = runOracleJob(trace, p, job, 10);
    close(r.timeS, 20 * 3992.39, 1e-6);
    close(r.carbonG, 100 * kwh(179.22631615034337, 20 * 3992.39), 1e-6);
  });
  it('spreads K starts evenly after the warm-up, leaving room for the slowest job', () => {
    const long = traceOf(new Array(24 * 30).fill(100));
    const s = jobStarts(long, p, 20, 5, 168);
    assert.equal(s[0], 168);
    assert.ok(s[4] + (20 * 3992.39) / 3600 < 24 * 30);
    assert.deepEqual(s.map((x, i) => (i > 0 ? x - s[i - 1] : 0)).slice(1).every((d, _, a) => Math.abs(d - a[0]) <= 1), true);
  });
});

describe('information rule', () => {
  it('a policy sees exactly the periods before the one it decides, whatever comes after', () => {
    const p = a40();
    const values = Array.from({ length: 24 * 3 }, (_, i) => 100 + 50 * Math.sin(i / 3));
    const seen: number[][] = [];
    const spy = (inner: Policy): Policy => ({ name: inner.name, decide: (s: DecisionState) => (seen.push([...s.history]), inner.decide(s)) });
    const pol = spy(budgetedPolicy(p, { budgetPct: 5, forecaster: persistence }));
    const a = runJob(traceOf(values), p, pol, { startIndex: 30, units: 10 });
    const first = seen.splice(0);
    const changed = [...values];
    for (let i = 45; i < changed.length; i++) changed[i] = 1000; // change the future after period 44
    runJob(traceOf(changed), p, pol, { startIndex: 30, units: 10 });
    for (let t = 0; t < first.length; t++) {
      assert.equal(first[t].length, 30 + t);
      assert.deepEqual(first[t], values.slice(0, 30 + t));
      if (30 + t <= 45) assert.deepEqual(seen[t], first[t]);
    }
    assert.ok(a.timeS > 0);
  });
});

// Random hourly traces: a daily cycle of random amplitude and phase, noise, occasional spikes.
const traceArb = fc
  .record({
    base: fc.double({ min: 20, max: 600, noNaN: true }),
    amp: fc.double({ min: 0, max: 0.9, noNaN: true }),
    phase: fc.double({ min: 0, max: 24, noNaN: true }),
    noise: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 24 * 5, maxLength: 24 * 5 }),
    noiseAmp: fc.double({ min: 0, max: 0.5, noNaN: true }),
  })
  .map(({ base, amp, phase, noise, noiseAmp }) =>
    noise.map((z, i) => Math.max(0, base * (1 + amp * Math.sin(((i + phase) / 24) * 2 * Math.PI) + noiseAmp * z))),
  );
// A forecaster that is simply wrong (random numbers): the budget must hold anyway.
const noisy = (seed: number): Forecaster => {
  let x = seed >>> 0 || 1;
  return { name: 'noise', forecast: ({ horizonSteps }) => ({ mean: Float64Array.from({ length: horizonSteps }, () => ((x = (x * 1103515245 + 12345) >>> 0) % 1000)) }) };
};

describe('properties over random traces (A40 ResNet-50 b128)', () => {
  const p = a40();
  it('default and energy-only never exceed the budget, with any forecaster', () => {
    fc.assert(
      fc.property(traceArb, fc.double({ min: 0, max: 15, noNaN: true }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 24, max: 40 }), fc.nat(), (values, budgetPct, epochs, start, seed) => {
        const trace = traceOf(values);
        const base = runJob(trace, p, maxPowerPolicy(p), { startIndex: start, units: epochs }).timeS;
        for (const pol of [budgetedPolicy(p, { budgetPct, forecaster: persistence }), budgetedPolicy(p, { budgetPct, forecaster: noisy(seed) }), energyOnlyPolicy(p, { budgetPct })]) {
          const r = runJob(trace, p, pol, { startIndex: start, units: epochs });
          if (r.timeS > base * (1 + budgetPct / 100) * (1 + 1e-9)) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });

  it('the oracle is never beaten on carbon by any policy at equal or lower slowdown', () => {
    const randomPolicy = (seed: number): Policy => {
      let x = seed >>> 0 || 7;
      return { name: 'random', decide: () => p.candidates[((x = (x * 1103515245 + 12345) >>> 0) >>> 8) % p.candidates.length].powerLimitMw };
    };
    fc.assert(
      fc.property(traceArb, fc.double({ min: 0, max: 15, noNaN: true }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 24, max: 40 }), fc.nat(), (values, budgetPct, epochs, start, seed) => {
        const trace = traceOf(values);
        const job = { startIndex: start, units: epochs };
        const oracle = runOracleJob(trace, p, job, budgetPct);
        const policies = [
          maxPowerPolicy(p),
          staticBestPolicy(p, { budgetPct }),
          energyOnlyPolicy(p, { budgetPct }),
          chasePaperPolicy(p, { eta: 0.5 }),
          budgetedPolicy(p, { budgetPct, forecaster: persistence }),
          // the default with perfect foresight, and random limits
          budgetedPolicy(p, { budgetPct, forecaster: { name: 'peek', forecast: ({ history, horizonSteps }) => ({ mean: Float64Array.from({ length: horizonSteps }, (_, k) => values[Math.min(values.length - 1, history.length + k)]) }) } }),
          randomPolicy(seed),
        ];
        for (const pol of policies) {
          const r = runJob(trace, p, pol, job);
          if (r.timeS <= oracle.timeS * (1 + 1e-9) && r.carbonG < oracle.carbonG * (1 - 1e-7)) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });
});

describe('chase-agent simulate', () => {
  it('prints the JSON summary with every policy and the budget', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chase-sim-'));
    try {
      const trace = join(dir, 'trace.csv');
      const rows = Array.from({ length: 24 * 12 }, (_, i) => `${new Date(T0 + i * HOUR_MS).toISOString()},${(200 + 150 * Math.sin((i / 24) * 2 * Math.PI)).toFixed(1)}`);
      writeFileSync(trace, ['timestamp,intensity', ...rows].join('\n'));
      const profile = join(dir, 'summary_power_a40.csv');
      writeFileSync(profile, A40_RESNET50_B128_CSV);
      let out = '';
      const write = process.stdout.write;
      process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
      let code: number;
      try {
        code = await simulateCommand.run(['--trace', trace, '--profile', profile, '--workload', 'resnet50', '--batch', '128', '--budget-pct', '5', '--epochs', '4', '--starts', '3', '--eta', '0.8', '--forecaster', 'persistence', '--json']);
      } finally {
        process.stdout.write = write;
      }
      assert.equal(code, 0);
      const r = JSON.parse(out) as { trace: string; jobs: number; budgetPct: number; policies: Array<Record<string, number | string>> };
      assert.equal(r.trace, 'trace.csv');
      assert.equal(r.jobs, 3);
      assert.equal(r.budgetPct, 5);
      assert.deepEqual(r.policies.map((q) => q.policy), ['max-power', 'static-best', 'energy-only', 'chase-paper-eta0.25', 'chase-paper-eta0.5', 'chase-paper-eta0.8', 'default', 'oracle']);
      for (const q of r.policies) for (const k of ['carbonReductionPct', 'slowdownPct', 'carbonG', 'energyKwh', 'hours']) assert.equal(typeof q[k], 'number');
      const by = Object.fromEntries(r.policies.map((q) => [q.policy, q]));
      assert.equal(by['max-power'].carbonReductionPct, 0);
      assert.ok((by.default.slowdownPct as number) <= 5 + 1e-9);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('rejects a bad command line with a usage error', async () => {
    await assert.rejects(simulateCommand.run(['--trace', 'x']), /--profile is required/);
    await assert.rejects(simulateCommand.run(['--bogus', '1']), /unknown option --bogus/);
  });
  it('simulate() requires the max-power baseline', () => {
    const p = a40();
    assert.throws(() => simulate(traceOf(new Array(24 * 10).fill(1)), p, [staticBestPolicy(p, { budgetPct: 1 })], { units: 2, starts: 2, budgetPct: 1 }), /max-power/);
  });
});
