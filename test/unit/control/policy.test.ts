import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allocate, allocatedPoint } from '../../../agent/control/allocate';
import { budgetedPolicy, chasePaperPolicy, maxPowerPolicy, staticBestPolicy, type DecisionState } from '../../../agent/control/policy';
import type { Forecaster } from '../../../agent/forecast/types';
import { parseZeusProfile } from '../../../agent/profile/zeus';
import { HOUR_MS, T0, a40 } from './fixtures';

const constant = (v: number): Forecaster => ({ name: 'constant', forecast: ({ horizonSteps }) => ({ mean: new Float64Array(horizonSteps).fill(v) }) });
const state = (history: number[], extra: Partial<DecisionState> = {}): DecisionState => ({
  nowMs: T0 + history.length * HOUR_MS,
  periodMs: HOUR_MS,
  history: Float64Array.from(history),
  unitsDone: 0,
  unitsTotal: 20,
  elapsedMs: 0,
  ...extra,
});

describe('static-best and max-power (golden, A40 ResNet-50 b128)', () => {
  const p = a40();
  it('max-power is the 300 W default limit', () => assert.equal(maxPowerPolicy(p).decide(state([100])), 300_000));
  it('static-best: least energy per epoch among measured limits within the budget', () => {
    // slowdowns: 275 W 1.01 %, 250 W 1.73 %, 225 W 3.29 %, 200 W 6.76 %; energy falls down to 200 W
    const pick = (b: number) => staticBestPolicy(p, { budgetPct: b }).decide(state([100])) / 1000;
    assert.equal(pick(0), 300);
    assert.equal(pick(1), 300);
    assert.equal(pick(1.1), 275);
    assert.equal(pick(2.5), 250);
    assert.equal(pick(5), 225);
    assert.equal(pick(10), 200);
    assert.equal(pick(50), 200); // 175 W and below need more energy per epoch
  });
});

describe('chase-paper (the paper rule)', () => {
  const measuredOnly = a40({ stepMw: 0 });
  it('golden: (η·P·CI + (1−η)·300 W·MaxCI)·s/epoch, hand-computed', () => {
    // η=0.5, CI=100, MaxCI=400: 250 W → (0.5·216.22·100 + 0.5·300·400)·3804.21 = 2.6938e8, the least
    // (300 W: 2.7004e8, 225 W: 2.7006e8).
    const rule = (eta: number, ci: number) => chasePaperPolicy(measuredOnly, { eta, forecaster: constant(ci) });
    assert.equal(rule(0.5, 100).decide(state([400, 50])), 250_000);
    // CI = MaxCI = 400: 200 W (3.8265e8) beats 225 W (3.8499e8)
    assert.equal(rule(0.5, 400).decide(state([400, 50])), 200_000);
    // η=0.25, CI=300, MaxCI=400: 250 W (4.0407e8) beats 300 W (4.0506e8)
    assert.equal(rule(0.25, 300).decide(state([400, 50])), 250_000);
    // MaxCI looks back 24 h only: the 1000 from 25 h ago is forgotten
    assert.equal(rule(0.5, 100).decide(state([1000, ...new Array(24).fill(400)])), 250_000);
  });
  it('uses the last known value by default (persistence) and only the history', () => {
    const r = chasePaperPolicy(measuredOnly, { eta: 0.5 });
    assert.equal(r.decide(state([400, 400])), 200_000);
    assert.equal(r.decide(state([400, 100])), 250_000);
  });
  it('property: a higher intensity never raises the chosen limit', () => {
    const p = a40();
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1500, noNaN: true }), { minLength: 1, maxLength: 48 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        (history, eta, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const s = state(history);
          return chasePaperPolicy(p, { eta, forecaster: constant(hi) }).decide(s) <= chasePaperPolicy(p, { eta, forecaster: constant(lo) }).decide(s);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('allocate (the exact budgeted plan)', () => {
  const p = a40({ stepMw: 0 });
  it('golden: a clean and a dirty hour, work of one hour at 300 W plus one at 250 W', () => {
    // Edge slopes (mJ/epoch): 250→300 W 6.16e9, 225→250 4.50e9, 200→225 2.27e9. The clean hour's
    // last breakpoint 100·6.16e9 comes before the dirty hour's 400·2.27e9, so the clean hour climbs
    // to 300 W first, then the dirty hour to exactly 250 W.
    const units = 3600 / 3739.5 + 3600 / 3804.21;
    const a = allocate(p.frontier, [100, 400], [3600, 3600], units);
    assert.equal(a.status, 'fits');
    const pts = [0, 1].map((s) => allocatedPoint(p.frontier, a.vertex[s], a.frac[s]));
    assert.ok(Math.abs(1 / pts[0].unitsPerS - 3739.5) < 1e-6 && Math.abs(1 / pts[1].unitsPerS - 3804.21) < 1e-6);
    // carbon: 0.24426 kWh × 100 + 0.21622 kWh × 400 = 110.914 g
    const g = (100 * pts[0].avgPowerMw + 400 * pts[1].avgPowerMw) * 3600 / 1000 / 3.6e6;
    assert.ok(Math.abs(g - 110.914) < 1e-3, String(g));
  });
  it('equal intensities share the split evenly; too much work is short, too little is slack', () => {
    const units = 2 * 3600 * (0.5 / 3862.42 + 0.5 / 3804.21);
    const a = allocate(p.frontier, [200, 200], [3600, 3600], units);
    assert.deepEqual([...a.vertex], [3, 3]); // 225 W, towards 250 W
    assert.ok(Math.abs(a.frac[0] - 0.5) < 1e-9 && a.frac[1] === a.frac[0]);
    assert.equal(allocate(p.frontier, [1, 1], [3600, 3600], 2).status, 'short');
    assert.equal(allocate(p.frontier, [1, 1], [3600, 3600], 0.1).status, 'slack');
  });
  it('property: the plan does exactly the work and no random time-shared plan emits less', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 800, noNaN: true }), { minLength: 1, maxLength: 12 }),
        fc.double({ min: 0.05, max: 0.95, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 12, maxLength: 12 }),
        (ci, level, rand) => {
          const n = ci.length;
          const lengths = new Array(n).fill(3600);
          const rMin = p.frontier[0].unitsPerS;
          const rMax = p.frontier[p.frontier.length - 1].unitsPerS;
          const units = 3600 * n * (rMin + level * (rMax - rMin));
          const a = allocate(p.frontier, ci, lengths, units);
          let work = 0;
          let carbon = 0;
          for (let s = 0; s < n; s++) {
            const q = allocatedPoint(p.frontier, a.vertex[s], a.frac[s]);
            work += 3600 * q.unitsPerS;
            carbon += ci[s] * q.avgPowerMw;
          }
          if (Math.abs(work - units) > 1e-9 * units) return false;
          // a random feasible plan: random speeds scaled to the same work, power on the hull
          const r = rand.slice(0, n).map((x) => rMin + x * (rMax - rMin));
          const sum = r.reduce((x, y) => x + y, 0);
          const target = units / 3600;
          if (sum - n * rMin < 1e-12 * rMax) return true; // all draws at the slowest: cannot be scaled
          const scaled = r.map((x) => rMin + ((x - rMin) * (target - n * rMin)) / (sum - n * rMin));
          if (scaled.some((x) => x > rMax * (1 + 1e-12))) return true; // infeasible draw: nothing to compare
          const hullPower = (x: number) => {
            for (let k = 0; k + 1 < p.frontier.length; k++) {
              const A = p.frontier[k];
              const B = p.frontier[k + 1];
              if (x <= B.unitsPerS) return A.avgPowerMw + ((x - A.unitsPerS) * (B.avgPowerMw - A.avgPowerMw)) / (B.unitsPerS - A.unitsPerS);
            }
            return p.frontier[p.frontier.length - 1].avgPowerMw;
          };
          const other = scaled.reduce((acc, x, s) => acc + ci[s] * hullPower(x), 0);
          return carbon <= other * (1 + 1e-9) + 1e-9;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('default (budgeted optimizer)', () => {
  const p = a40();
  it('goes full speed when the budget is spent, and slows for a forecast dirty spell', () => {
    const pol = budgetedPolicy(p, { budgetPct: 2.5, forecaster: constant(300) });
    // 20 epochs at 300 W take 74 790 s; at 2.5 % the deadline is 76 659.75 s
    assert.equal(pol.decide(state([300], { unitsDone: 0, elapsedMs: 76_000_000 })), 300_000);
    const dirtyNow: Forecaster = { name: 'x', forecast: ({ horizonSteps }) => ({ mean: Float64Array.from({ length: horizonSteps }, (_, k) => (k === 0 ? 600 : 100)) }) };
    const cleanNow: Forecaster = { name: 'x', forecast: ({ horizonSteps }) => ({ mean: Float64Array.from({ length: horizonSteps }, (_, k) => (k === 0 ? 50 : 300)) }) };
    const slow = budgetedPolicy(p, { budgetPct: 2.5, forecaster: dirtyNow }).decide(state([300]));
    const fast = budgetedPolicy(p, { budgetPct: 2.5, forecaster: cleanNow }).decide(state([300]));
    assert.ok(slow < 225_000, `dirty now: ${slow}`);
    assert.equal(fast, 300_000);
  });
});

describe('noisy profiles', () => {
  // Zeus A40 NCF batch 32768: flat and noisy; 250 W is the fastest and 300 W (the default) is not.
  const csv = `dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power
movielens-1m,ncf,32768,adam,100,8.445,80.12311371122034
movielens-1m,ncf,32768,adam,125,8.215,82.59299946722155
movielens-1m,ncf,32768,adam,150,8.655,81.17130834524644
movielens-1m,ncf,32768,adam,175,8.335,84.16853335821843
movielens-1m,ncf,32768,adam,200,8.646,82.25691073594979
movielens-1m,ncf,32768,adam,225,8.346,83.06397779023649
movielens-1m,ncf,32768,adam,250,8.116,81.51718134076725
movielens-1m,ncf,32768,adam,275,8.239,85.09836983612591
movielens-1m,ncf,32768,adam,300,8.342,82.52385243391234
`;
  it('the frontier starts at the least power and every policy decides', () => {
    const p = parseZeusProfile(csv, 'ncf', { workload: 'ncf', batch: 32768 });
    assert.deepEqual(p.frontier.map((q) => q.powerLimitMw / 1000), [100, 250]);
    const s = state(new Array(30).fill(200), { unitsTotal: 8000 });
    assert.equal(budgetedPolicy(p, { budgetPct: 2.5, forecaster: constant(200) }).decide(s), 250_000);
    assert.equal(staticBestPolicy(p, { budgetPct: 2.5 }).decide(s), 250_000); // faster and leaner than 300 W
    assert.equal(chasePaperPolicy(p, { eta: 0.5 }).decide(s), 250_000);
    const a = allocate(p.frontier, [-5, 0, 300], [3600, 3600, 3600], 3 * 3600 / 8.3);
    assert.equal(a.status, 'fits');
  });
});

