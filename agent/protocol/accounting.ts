/**
 * Energy and carbon accounting (docs/accounting.md). Pure functions, no Node, no DOM: the one place
 * for unit conversions between the wire's units (mW, mJ) and accounting's (W, J, kWh, g, kg), and for
 * the carbon of energy, used by the agent (gpu, control, runs, sim, store, server), the extension and
 * the webview. Beside units.ts, whose constants it uses.
 *
 * carbon (g) = Σ over segments of energy (kWh) × intensity (g/kWh) at the time the energy was used —
 * CodeCarbon's `emissions = energy_consumed (kWh) × carbon intensity`, applied per intensity period
 * instead of with one average.
 */

import { JOULES_PER_KWH, JOULES_PER_WH } from './units';

export const joulesToKwh = (j: number): number => j / JOULES_PER_KWH;
export const joulesToWh = (j: number): number => j / JOULES_PER_WH;
export const kwhToJoules = (kwh: number): number => kwh * JOULES_PER_KWH;
export const millijoulesToJoules = (mj: number): number => mj / 1000;
export const joulesToMillijoules = (j: number): number => j * 1000;
export const milliwattsToWatts = (mw: number): number => mw / 1000;
export const wattsToMilliwatts = (w: number): number => w * 1000;
export const gramsToKg = (g: number): number => g / 1000;

/**
 * Grams from Σ power (mW) × time (s) × intensity (g/kWh), the simulator's and the oracle's inner sum
 * (mW·s = mJ; mJ → J → kWh).
 */
export const MW_S_G_PER_KWH_TO_G = 1 / 1000 / JOULES_PER_KWH;

export interface EnergySegment {
  energyJ: number;
  /** Intensity while this energy was used. */
  intensityGPerKwh: number;
}

/** Carbon of energy used at one intensity: kWh × g/kWh. */
export const carbonOfEnergyG = (energyJ: number, intensityGPerKwh: number): number => joulesToKwh(energyJ) * intensityGPerKwh;

/** Carbon of energy used under the given intensities: Σ kWh × g/kWh. */
export function carbonG(segments: Iterable<EnergySegment>): number {
  let g = 0;
  for (const s of segments) g += carbonOfEnergyG(s.energyJ, s.intensityGPerKwh);
  return g;
}

/** Energy from a hardware counter (mJ): end − start; a counter that went backwards (driver reload) yields null. */
export function energyFromCounterJ(startMj: number, endMj: number): number | null {
  return endMj >= startMj ? millijoulesToJoules(endMj - startMj) : null;
}

export interface PowerPoint {
  timestampMs: number;
  powerMw: number;
}

/** Energy (J) of a power series by the trapezoidal rule (for GPUs without an energy counter). */
export function integratePowerJ(points: readonly PowerPoint[]): number {
  let j = 0;
  for (let i = 1; i < points.length; i++) {
    const dtS = (points[i].timestampMs - points[i - 1].timestampMs) / 1000;
    if (dtS > 0) j += (milliwattsToWatts(points[i].powerMw + points[i - 1].powerMw) / 2) * dtS;
  }
  return j;
}

export interface IntensityStep {
  /** Start of the period; the value holds until the next step. */
  timestampMs: number;
  intensityGPerKwh: number;
}

/**
 * Splits a power series at the intensity periods' boundaries and returns one segment per piece
 * (trapezoids, power interpolated linearly at a boundary). Energy before the first step uses the
 * first step's intensity.
 */
export function segmentsFromPower(points: readonly PowerPoint[], steps: readonly IntensityStep[]): EnergySegment[] {
  if (steps.length === 0) throw new Error('no carbon intensity for the period: cannot account carbon');
  const sorted = [...steps].sort((a, b) => a.timestampMs - b.timestampMs);
  const at = (t: number): number => {
    let v = sorted[0].intensityGPerKwh;
    for (const s of sorted) if (s.timestampMs <= t) v = s.intensityGPerKwh;
    return v;
  };
  const out: EnergySegment[] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (b.timestampMs <= a.timestampMs) continue;
    const cuts = [a.timestampMs, ...sorted.map((s) => s.timestampMs).filter((t) => t > a.timestampMs && t < b.timestampMs), b.timestampMs];
    const p = (t: number): number => a.powerMw + ((b.powerMw - a.powerMw) * (t - a.timestampMs)) / (b.timestampMs - a.timestampMs);
    for (let k = 1; k < cuts.length; k++) {
      const energyJ = integratePowerJ([
        { timestampMs: cuts[k - 1], powerMw: p(cuts[k - 1]) },
        { timestampMs: cuts[k], powerMw: p(cuts[k]) },
      ]);
      out.push({ energyJ, intensityGPerKwh: at(cuts[k - 1]) });
    }
  }
  return out;
}

/** Time-weighted mean intensity over [fromMs, toMs) of a step series. */
export function timeWeightedIntensity(steps: readonly IntensityStep[], fromMs: number, toMs: number): number {
  if (steps.length === 0 || toMs <= fromMs) throw new Error('no carbon intensity for the period');
  const sorted = [...steps].sort((a, b) => a.timestampMs - b.timestampMs);
  let acc = 0;
  for (let i = 0; i < sorted.length; i++) {
    const start = Math.max(fromMs, i === 0 ? fromMs : sorted[i].timestampMs);
    const end = Math.min(toMs, i + 1 < sorted.length ? sorted[i + 1].timestampMs : toMs);
    if (end > start) acc += sorted[i].intensityGPerKwh * (end - start);
  }
  return acc / (toMs - fromMs);
}

/**
 * Baseline energy of a segment: what the same work would have used at the maximum power limit,
 * scaled by the profile's energy per epoch (energy at max / energy at the limit actually used).
 */
export function baselineEnergyJ(energyJ: number, profileEnergyAtLimitJ: number, profileEnergyAtMaxJ: number): number {
  if (!(profileEnergyAtLimitJ > 0)) throw new Error('profile energy at the chosen limit must be positive');
  return energyJ * (profileEnergyAtMaxJ / profileEnergyAtLimitJ);
}

export interface LimitSegment extends EnergySegment {
  powerLimitMw: number;
}

/** Baseline carbon (g) of segments run at various limits, with the profile's energy per epoch by limit. */
export function baselineCarbonG(segments: readonly LimitSegment[], energyPerEpochJ: (limitMw: number) => number, maxLimitMw: number): number {
  const atMax = energyPerEpochJ(maxLimitMw);
  return carbonG(segments.map((s) => ({ energyJ: baselineEnergyJ(s.energyJ, energyPerEpochJ(s.powerLimitMw), atMax), intensityGPerKwh: s.intensityGPerKwh })));
}
