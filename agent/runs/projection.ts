/**
 * "What will this run cost?" — the run's projected energy, carbon, finish time and saving against
 * max power, from its profile, the intensity forecast and its progress. Pure: RunProjector (below)
 * gathers the inputs; the Run sends the result in its summary, and the history keeps the first one
 * made after profiling so that the end of the run can say how far off it was.
 *
 * The remaining work (the job's `totalUnits` less what is done; without it, the work of the next
 * `horizonHours` — said so in the projection) is assumed to run at one limit: the one that uses the
 * least energy per unit while the whole run still ends within its slowdown budget (the maximum limit
 * when none is slow enough to save anything). Its energy is spread over the carbon periods it falls in
 * (in the carbon clock: a sped-up replay's periods pass `speed` times faster) and weighted by the
 * forecast's intensity there — its mean, and its band (low/high) where the forecast has one. The
 * baseline is the same remaining work at the maximum limit, over the periods it would take. A
 * forecast shorter than the work is carried on with its last value.
 */
import type { PowerPoint, PowerProfile } from '../profile/profile';
import { carbonOfEnergyG, facilityEnergyJ, milliwattsToWatts } from '../protocol/accounting';
import type { RunProjection } from '../protocol/messages';

export type { RunProjection } from '../protocol/messages';

/** Intensity per carbon period, from the period containing "now" on (virtual clock). */
export interface PeriodForecast {
  /** Start of the first period, virtual epoch ms. */
  startMs: number;
  periodMs: number;
  mean: readonly number[];
  low?: readonly number[];
  high?: readonly number[];
}

export interface ProjectionInput {
  /** The job's profile, in wall-clock rates. */
  profile: PowerProfile;
  budgetPct: number;
  /** Wall clock now, epoch ms. */
  nowMs: number;
  /** Virtual (carbon-clock) now, epoch ms; equals nowMs unless a replay is sped up. */
  virtualNowMs: number;
  /** Virtual ms per wall ms. */
  speed: number;
  /** Wall ms since the run started. */
  elapsedMs: number;
  unitsDone: number;
  /** Totals so far (the meter's). */
  energyJ: number;
  carbonG: number;
  baselineEnergyJ: number;
  baselineCarbonG: number;
  /** The job's total work, when known. */
  totalUnits?: number;
  /** Without totalUnits: how far ahead the projection looks, hours of the carbon clock (the policy's rolling horizon). */
  horizonHours: number;
  forecast: PeriodForecast;
  /** chase.accounting.pue (default 1): the totals so far include it already. */
  pue?: number;
}

/**
 * The profile point the remaining work is assumed to run at: the least energy per unit among those
 * fast enough for the whole run to end within the budget (work done so far took `elapsedMs`).
 */
export function plannedPoint(profile: PowerProfile, budgetPct: number, unitsTotal: number, unitsDone: number, elapsedMs: number): PowerPoint {
  const max = profile.maxPoint;
  const allowedS = (unitsTotal / max.unitsPerS) * (1 + budgetPct / 100) - elapsedMs / 1000;
  const remaining = Math.max(0, unitsTotal - unitsDone);
  const neededRate = allowedS > 0 ? remaining / allowedS : Infinity;
  let best = max;
  for (const p of profile.candidates) {
    if (p.unitsPerS >= neededRate && p.unitsPerS > 0 && p.avgPowerMw / p.unitsPerS < best.avgPowerMw / best.unitsPerS) best = p;
  }
  return best;
}

/** Carbon of drawing `powerW` for `durationS` wall seconds from now, period by period: [mean, low, high] in g. */
function carbonOver(powerW: number, durationS: number, i: ProjectionInput): [number, number, number] {
  const f = i.forecast;
  const totals: [number, number, number] = [0, 0, 0];
  if (durationS <= 0 || f.mean.length === 0) return totals;
  const at = (series: readonly number[] | undefined, k: number): number => {
    const s = series && series.length > 0 ? series : f.mean;
    return s[Math.min(k, s.length - 1)];
  };
  let virtualMs = i.virtualNowMs;
  let leftS = durationS;
  // periods beyond the forecast are carried on with its last value: lump them together
  for (let k = Math.max(0, Math.floor((virtualMs - f.startMs) / f.periodMs)); leftS > 0; k++) {
    const periodEndMs = k >= f.mean.length - 1 ? Infinity : f.startMs + (k + 1) * f.periodMs;
    const spanS = Math.min(leftS, (periodEndMs - virtualMs) / i.speed / 1000);
    const energyJ = powerW * spanS;
    totals[0] += carbonOfEnergyG(energyJ, at(f.mean, k));
    totals[1] += carbonOfEnergyG(energyJ, at(f.low, k));
    totals[2] += carbonOfEnergyG(energyJ, at(f.high, k));
    leftS -= spanS;
    virtualMs = periodEndMs;
  }
  return totals;
}

export function projectRun(i: ProjectionInput): RunProjection {
  const { profile } = i;
  const max = profile.maxPoint;
  const known = i.totalUnits !== undefined;
  // without a total: the work the least-energy limit within the budget does in the horizon
  const point = known ? plannedPoint(profile, i.budgetPct, i.totalUnits ?? 0, i.unitsDone, i.elapsedMs) : plannedPoint(profile, i.budgetPct, 1, 0, 0);
  const unitsTotal = i.totalUnits ?? i.unitsDone + (point.unitsPerS * i.horizonHours * 3600) / i.speed;
  const remaining = Math.max(0, unitsTotal - i.unitsDone);
  const remainingS = point.unitsPerS > 0 ? remaining / point.unitsPerS : 0;
  // facility power: the GPUs' × PUE, as the meter counts the energy so far
  const powerW = facilityEnergyJ(milliwattsToWatts(point.avgPowerMw), i.pue ?? 1);
  const maxPowerW = facilityEnergyJ(milliwattsToWatts(max.avgPowerMw), i.pue ?? 1);
  const baselineS = remaining / max.unitsPerS;
  const [carbonG, lowG, highG] = carbonOver(powerW, remainingS, i);
  const [baseG, baseLowG, baseHighG] = carbonOver(maxPowerW, baselineS, i);
  const projected = i.carbonG + carbonG;
  const baseline = i.baselineCarbonG + baseG;
  return {
    atMs: i.nowMs,
    basis: known ? 'totalUnits' : 'horizon',
    ...(known ? {} : { horizonHours: i.horizonHours }),
    unitsTotal,
    powerLimitMw: point.powerLimitMw,
    energyJ: i.energyJ + powerW * remainingS,
    baselineEnergyJ: i.baselineEnergyJ + maxPowerW * baselineS,
    carbonG: projected,
    carbonLowG: i.carbonG + lowG,
    carbonHighG: i.carbonG + highG,
    baselineCarbonG: baseline,
    savedCarbonG: baseline - projected,
    // the band of the saving: the same forecast errors move both sides, so take them together
    savedLowG: i.baselineCarbonG + baseLowG - (i.carbonG + lowG),
    savedHighG: i.baselineCarbonG + baseHighG - (i.carbonG + highG),
    ...(known ? { finishAtMs: i.nowMs + remainingS * 1000 } : {}),
    slowdownPct: unitsTotal > 0 ? ((i.elapsedMs / 1000 + remainingS) / (unitsTotal / max.unitsPerS) - 1) * 100 : 0,
  };
}

/** How far the outcome was from the projection, % of the projected carbon (positive: the run emitted more than projected). */
export function projectionErrorPct(projectedCarbonG: number, actualCarbonG: number): number | undefined {
  return projectedCarbonG > 0 ? ((actualCarbonG - projectedCarbonG) / projectedCarbonG) * 100 : undefined;
}

/** Start-time advice: what starting later within a window would do to a run's projected carbon. */
export interface StartAdvice {
  /** The run started now. */
  now: RunProjection;
  /** The best start within the window (possibly now), wall ms, and its projection. */
  bestStartAtMs: number;
  best: RunProjection;
  /** How much the best start cuts the projected carbon against starting now, %. */
  cutPct: number;
}

/**
 * Projects a whole run (no work done yet) started at each carbon period within `windowHours` of
 * the carbon clock from now, and returns the start that emits least. Advice only: the caller shows
 * it; nothing here (or anywhere in Chase) postpones a run.
 */
export function adviseStart(i: Omit<ProjectionInput, 'elapsedMs' | 'unitsDone' | 'energyJ' | 'carbonG' | 'baselineEnergyJ' | 'baselineCarbonG'> & { totalUnits: number; windowHours: number }): StartAdvice {
  const fresh = { ...i, elapsedMs: 0, unitsDone: 0, energyJ: 0, carbonG: 0, baselineEnergyJ: 0, baselineCarbonG: 0 };
  const now = projectRun(fresh);
  const periodMs = i.forecast.periodMs;
  let best = { atMs: i.nowMs, p: now };
  // each later period's start, in the carbon clock; the job would start there (wall time = virtual / speed)
  const firstPeriodMs = Math.floor(i.virtualNowMs / periodMs) * periodMs + periodMs;
  for (let v = firstPeriodMs; v <= i.virtualNowMs + i.windowHours * 3_600_000; v += periodMs) {
    const atMs = i.nowMs + (v - i.virtualNowMs) / i.speed;
    const p = projectRun({ ...fresh, nowMs: atMs, virtualNowMs: v });
    if (p.carbonG < best.p.carbonG) best = { atMs, p };
  }
  return { now, bestStartAtMs: best.atMs, best: best.p, cutPct: now.carbonG > 0 ? ((now.carbonG - best.p.carbonG) / now.carbonG) * 100 : 0 };
}
