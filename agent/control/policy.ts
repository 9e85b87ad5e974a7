/**
 * Power-limit policies: `decide(state) → powerLimitMw`, once per period, pure and deterministic given
 * the state (and the forecaster's answers). The same objects drive the simulator and the live agent.
 *
 * Information rule: at the start of period t a policy knows the actual intensity only of the periods
 * before t (`state.history`, ending with period t−1) and forecasts from there. Only the oracle
 * (oracle.ts, simulator only) sees the future.
 */
import { allocate, prepareAllocation, type PreparedAllocation } from './allocate';
import { edgeSlopes } from '../profile/frontier';
import type { PowerPoint, PowerProfile } from '../profile/profile';
import { persistence, type Forecaster } from '../forecast/types';
import { DAY_MS } from '../protocol/units';

export interface DecisionState {
  /** Start of the period being decided, epoch ms UTC. */
  nowMs: number;
  /** Length of a decision period, ms (the carbon trace's step). */
  periodMs: number;
  /** Actual intensities (g/kWh) of the periods before `nowMs`, oldest first, evenly spaced by periodMs. */
  history: Float64Array;
  /** Work done so far and in all, in the profile's unit. */
  unitsDone: number;
  unitsTotal: number;
  /** Time the job has run so far, ms. */
  elapsedMs: number;
}

export interface Policy {
  readonly name: string;
  decide(state: DecisionState): number;
}

export interface BudgetOptions {
  /** Allowed slowdown against running at the maximum limit, percent (2.5 = finish within 1.025×). */
  budgetPct: number;
}

/** Job time at the maximum limit × (1 + budget), ms: the deadline every budgeted policy plans for. */
export function deadlineMs(profile: PowerProfile, unitsTotal: number, budgetPct: number): number {
  return (unitsTotal / profile.maxPoint.unitsPerS) * 1000 * (1 + budgetPct / 100);
}

/** The default (maximum) limit: the baseline. */
export function maxPowerPolicy(profile: PowerProfile): Policy {
  const limit = profile.maxPoint.powerLimitMw;
  return { name: 'max-power', decide: () => limit };
}

/**
 * Zeus's carbon-unaware choice: the measured limit with the least energy per unit whose slowdown
 * stays within the budget. Measured limits only, as Zeus profiles them (25 W apart).
 */
export function staticBestPoint(profile: PowerProfile, budgetPct: number): PowerPoint {
  const maxRate = profile.maxPoint.unitsPerS;
  let best = profile.maxPoint;
  for (const p of profile.measured) {
    const slow = maxRate / p.unitsPerS - 1;
    if (slow * 100 <= budgetPct + 1e-9 && p.avgPowerMw / p.unitsPerS < best.avgPowerMw / best.unitsPerS) best = p;
  }
  return best;
}

export function staticBestPolicy(profile: PowerProfile, { budgetPct }: BudgetOptions): Policy {
  const limit = staticBestPoint(profile, budgetPct).powerLimitMw;
  return { name: 'static-best', decide: () => limit };
}

export interface ChasePaperOptions {
  eta: number;
  forecaster?: Forecaster;
  /** Window for MaxCI, ms (the paper: the preceding 24 h). */
  maxWindowMs?: number;
}

/**
 * The Chase paper's rule: per period choose p minimising
 * (η·AvgPower(p)·CI_next + (1−η)·MaxPower·MaxCI) / Throughput(p), MaxPower the maximum limit,
 * MaxCI the highest actual intensity in the preceding 24 h, CI_next the forecast for this period.
 * Only non-dominated points are considered (a slower point needing more energy never wins anyway);
 * ties go to the lower energy per unit, so a higher intensity never raises the limit.
 */
export function chasePaperPolicy(profile: PowerProfile, options: ChasePaperOptions): Policy {
  const { eta } = options;
  const forecaster = options.forecaster ?? persistence;
  const maxWindowMs = options.maxWindowMs ?? DAY_MS;
  const points = profile.efficient;
  const maxPowerMw = profile.maxPoint.powerLimitMw;
  return {
    name: `chase-paper-eta${eta}`,
    decide(state) {
      const h = state.history;
      if (h.length === 0) return profile.maxPoint.powerLimitMw;
      const ciNext = sanitize(forecaster.forecast({ history: h, stepMs: state.periodMs, nextTimestampMs: state.nowMs, horizonSteps: 1 }).mean[0], h);
      const window = Math.max(1, Math.round(maxWindowMs / state.periodMs));
      let maxCi = 0;
      for (let i = Math.max(0, h.length - window); i < h.length; i++) maxCi = Math.max(maxCi, h[i]);
      const fixed = (1 - eta) * maxPowerMw * maxCi;
      let best = points[points.length - 1];
      let bestCost = Infinity;
      for (let i = points.length - 1; i >= 0; i--) {
        // descending throughput = descending energy per unit: a tie keeps the later (lower-energy) point
        const p = points[i];
        const cost = (eta * p.avgPowerMw * ciNext + fixed) / p.unitsPerS;
        if (cost <= bestCost) {
          best = p;
          bestCost = cost;
        }
      }
      return best.powerLimitMw;
    },
  };
}

export interface BudgetedOptions extends BudgetOptions {
  forecaster?: Forecaster;
  name?: string;
}

/**
 * The project's optimizer (`default`): minimise the job's expected carbon subject to finishing within
 * the budget. Every period it re-plans the rest of the job from the forecast of every period up to
 * the deadline and the work and time actually left (so whatever slowdown has accrued is corrected):
 *  1. the exact time-shared plan (allocate.ts: a Lagrangian per period, its multiplier set so the
 *     work fits) says which frontier edge this period belongs on;
 *  2. one-step lookahead: each real limit near that edge is tried for this period, the rest of the
 *     job re-planned exactly for the work it leaves, and the limit with the least forecast carbon
 *     for the whole job is applied. So a period never pays the convexity loss of rounding a
 *     time-shared plan, and the last periods use the budget to the second.
 * The plan may finish before the deadline (when the budget exceeds the slowdown of the most efficient
 * limit, or to skip a dirty last hour): the deadline, the most-efficient finish and the period
 * boundaries in between are compared by forecast carbon.
 */
export function budgetedPolicy(profile: PowerProfile, options: BudgetedOptions): Policy {
  const forecaster = options.forecaster ?? persistence;
  const frontier = profile.frontier;
  const slopes = edgeSlopes(frontier);
  const fastest = frontier[frontier.length - 1];
  const efficientRate = frontier[profile.minEnergyVertex].unitsPerS;
  // Single limits the policy may apply: the frontier's vertices and every non-dominated candidate.
  const choices = [...new Set([...frontier, ...profile.efficient])].sort((a, b) => a.unitsPerS - b.unitsPerS);
  return {
    name: options.name ?? 'default',
    decide(state) {
      const remainingUnits = state.unitsTotal - state.unitsDone;
      const leftS = (deadlineMs(profile, state.unitsTotal, options.budgetPct) - state.elapsedMs) / 1000;
      const periodS = state.periodMs / 1000;
      if (remainingUnits <= 0 || state.history.length === 0 || leftS <= 0 || remainingUnits >= fastest.unitsPerS * leftS) return profile.maxPoint.powerLimitMw;
      const n = Math.ceil(leftS / periodS - 1e-9);
      const mean = forecaster.forecast({ history: state.history, stepMs: state.periodMs, nextTimestampMs: state.nowMs, horizonSteps: n }).mean;
      const ci = new Float64Array(n);
      for (let s = 0; s < n; s++) ci[s] = sanitize(mean[s], state.history);
      // Finish times worth comparing: the deadline, the all-most-efficient finish, and the period
      // boundaries from the fastest possible finish on (finishing before a dirty hour can pay).
      const finishes = new Set<number>([leftS, Math.min(leftS, remainingUnits / efficientRate)]);
      for (let j = Math.ceil(remainingUnits / fastest.unitsPerS / periodS); j * periodS < leftS; j++) finishes.add(j * periodS);
      const len0 = Math.min(periodS, leftS);
      // One-step lookahead: this period gets one real limit; the rest of the job is the exact plan
      // for what that leaves (forecast carbon), over the best of the finish times.
      const rests: Array<{ prep: PreparedAllocation; ci: Float64Array; lengths: Float64Array }> = [];
      for (const T of finishes) {
        if (T <= len0) continue;
        const m = Math.ceil(T / periodS - 1e-9);
        const lengths = new Float64Array(m - 1).fill(periodS);
        lengths[m - 2] = T - (m - 1) * periodS;
        const restCi = ci.subarray(1, m);
        rests.push({ prep: prepareAllocation(frontier, restCi, lengths, slopes), ci: restCi, lengths });
      }
      const rest = (units: number) => {
        if (units <= 0) return 0;
        let best = Infinity;
        for (const r of rests) {
          best = Math.min(best, units <= r.prep.workMin ? efficientUntilDone(frontier[profile.minEnergyVertex], r.ci, r.lengths, units) : r.prep.carbon(units));
        }
        return best;
      };
      // Shortlist: choices from one vertex below to one above the edge each finish time's
      // time-shared plan puts this period on.
      let lo = Infinity;
      let hi = -Infinity;
      for (const T of finishes) {
        const m = Math.max(1, Math.ceil(T / periodS - 1e-9));
        const v = allocate(frontier, ci.subarray(0, m), deadlineLengths(m, periodS, T), remainingUnits, slopes).vertex[0];
        lo = Math.min(lo, frontier[Math.max(0, v - 1)].unitsPerS);
        hi = Math.max(hi, frontier[Math.min(frontier.length - 1, v + 2)].unitsPerS);
      }
      let chosen = fastest;
      let bestCost = Infinity;
      for (const p of choices) {
        if (p.unitsPerS < lo || p.unitsPerS > hi) continue;
        const used = Math.min(len0, remainingUnits / p.unitsPerS);
        const cost = ci[0] * used * p.avgPowerMw + rest(remainingUnits - used * p.unitsPerS);
        // ascending throughput: a tie keeps the slower (less energy per unit) choice
        if (cost < bestCost * (1 - 1e-12)) {
          chosen = p;
          bestCost = cost;
        }
      }
      return chosen.powerLimitMw;
    },
  };
}

function deadlineLengths(n: number, periodS: number, leftS: number): Float64Array {
  const lengths = new Float64Array(n).fill(periodS);
  lengths[n - 1] = leftS - (n - 1) * periodS;
  return lengths;
}

/** Forecast carbon (g/kWh × mW × s) of running at one point until `units` are done; Infinity if they are not. */
function efficientUntilDone(p: PowerPoint, ci: Float64Array, lengthsS: Float64Array, units: number): number {
  let carbon = 0;
  let left = units;
  for (let s = 0; s < ci.length && left > 0; s++) {
    const len = Math.min(lengthsS[s], left / p.unitsPerS);
    carbon += ci[s] * len * p.avgPowerMw;
    left -= len * p.unitsPerS;
  }
  return left > units * 1e-9 ? Infinity : carbon;
}

/** `energy-only`: the same optimizer fed a constant intensity — spends the budget on energy alone. */
export function energyOnlyPolicy(profile: PowerProfile, options: BudgetOptions): Policy {
  const constant: Forecaster = { name: 'constant', forecast: ({ horizonSteps }) => ({ mean: new Float64Array(horizonSteps).fill(1) }) };
  const inner = budgetedPolicy(profile, { ...options, forecaster: constant, name: 'energy-only' });
  const one = new Float64Array([1]);
  return { name: 'energy-only', decide: (state) => inner.decide({ ...state, history: one }) };
}

/** A forecast value, or the last known one when the forecaster gives NaN / a negative number. */
function sanitize(v: number | undefined, history: Float64Array): number {
  if (v !== undefined && Number.isFinite(v) && v >= 0) return v;
  return history.length > 0 ? history[history.length - 1] : 0;
}
