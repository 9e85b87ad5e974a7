/**
 * The oracle (simulator only): perfect knowledge of the job's actual intensities, same budget.
 *
 * It solves the allocation (allocate.ts) with the actual intensities and, because finishing a little
 * early can beat crawling through a dirty last hour, also chooses the finish time T ≤ deadline. For a
 * fixed number of whole periods the carbon is convex in the length of the last, partial one (the
 * perspective of a convex function), so each period's sub-interval is searched by golden section
 * (unless the carbon still falls at its right end, which makes that end the minimum).
 * Periods split between two frontier vertices are time-shared within the period. The result is a
 * lower bound on the carbon of any schedule of frontier-or-worse points finishing no later than T.
 */
import { allocate, allocatedPoint } from './allocate';
import { edgeSlopes } from '../profile/frontier';
import type { PowerProfile } from '../profile/profile';
import { millijoulesToJoules, MW_S_G_PER_KWH_TO_G } from '../protocol/accounting';

export interface OracleResult {
  carbonG: number;
  energyJ: number;
  timeS: number;
  /** Per period from the job's start: effective throughput and power of the plan. */
  unitsPerS: Float64Array;
  avgPowerMw: Float64Array;
}

export function planOracle(profile: PowerProfile, actual: Float64Array, periodS: number, units: number, deadlineS: number): OracleResult {
  const frontier = profile.frontier;
  const slopes = edgeSlopes(frontier);
  const tMin = units / frontier[frontier.length - 1].unitsPerS;
  const tMax = Math.max(tMin, Math.min(deadlineS, units / frontier[0].unitsPerS));
  const evaluate = (T: number) => {
    const n = Math.max(1, Math.ceil(T / periodS - 1e-9));
    if (n > actual.length) throw new Error(`the trace ends before the job (needs ${n} periods from the start, has ${actual.length})`);
    const lengths = new Float64Array(n).fill(periodS);
    lengths[n - 1] = T - (n - 1) * periodS;
    const ci = actual.subarray(0, n);
    const plan = allocate(frontier, ci, lengths, units, slopes);
    let carbon = 0;
    let energy = 0;
    let work = 0;
    const r = new Float64Array(n);
    const p = new Float64Array(n);
    for (let s = 0; s < n; s++) {
      const pt = allocatedPoint(frontier, plan.vertex[s], plan.frac[s]);
      // 'slack' (only at T = units / slowest rate): the slowest point, stopping when the work is done
      const len = Math.min(lengths[s], Math.max(0, (units - work) / pt.unitsPerS));
      work += len * pt.unitsPerS;
      r[s] = pt.unitsPerS;
      p[s] = pt.avgPowerMw;
      energy += pt.avgPowerMw * len;
      carbon += ci[s] * pt.avgPowerMw * len;
    }
    return { carbonG: carbon * MW_S_G_PER_KWH_TO_G, energyJ: millijoulesToJoules(energy), timeS: T, unitsPerS: r, avgPowerMw: p };
  };
  let best = evaluate(tMax);
  const consider = (T: number) => {
    const e = evaluate(T);
    if (e.carbonG < best.carbonG) best = e;
    return e.carbonG;
  };
  const g = (Math.sqrt(5) - 1) / 2;
  for (let a = tMin; a < tMax; ) {
    const b = Math.min(tMax, (Math.floor(a / periodS + 1e-9) + 1) * periodS);
    consider(a);
    const fb = consider(b);
    // Convex on the sub-interval: still falling at its right end means the minimum is that end.
    if (b - a > 2e-3 && fb <= consider(b - 1e-3)) {
      a = b;
      continue;
    }
    let lo = a;
    let hi = b;
    let x1 = hi - g * (hi - lo);
    let x2 = lo + g * (hi - lo);
    let f1 = consider(x1);
    let f2 = consider(x2);
    for (let it = 0; it < 40 && hi - lo > 1e-3; it++) {
      if (f1 <= f2) {
        hi = x2;
        x2 = x1;
        f2 = f1;
        x1 = hi - g * (hi - lo);
        f1 = consider(x1);
      } else {
        lo = x1;
        x1 = x2;
        f1 = f2;
        x2 = lo + g * (hi - lo);
        f2 = consider(x2);
      }
    }
    a = b;
  }
  return best;
}
