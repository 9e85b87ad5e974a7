/**
 * Power profiles: how fast a training job runs and how much power it draws at each GPU power limit.
 * The one `PowerProfile` of the agent: policies (agent/control) decide over it, simulated GPUs
 * (agent/gpu/backends/simulated.ts) run by it, runs (agent/runs) measure and store it, the
 * simulator (agent/sim) replays it. It comes from a Zeus profile CSV (zeus.ts, unit = one epoch)
 * or from live measurements of time, energy and work done per limit (`profileFromMeasurements`,
 * unit = whatever the job counts: steps, samples…).
 *
 * Besides the measured limits, a profile holds 5 W-step candidates between adjacent measured limits,
 * with time per unit and average power interpolated linearly in the limit (the GPU is set in mW, so
 * any of them can be applied), and the frontier used by the optimizers: the lower convex hull of
 * (throughput, power) (see frontier.ts).
 *
 * This folder imports only the agent's leaf modules (csv, files, decimal, paths), so that gpu/ and
 * control/ can both use it without importing each other.
 */
import { lowerHull, paretoByEnergy } from './frontier';

export interface PowerPoint {
  powerLimitMw: number;
  /** Average board power while training at this limit, mW. */
  avgPowerMw: number;
  /** Work units per second at this limit (see `PowerProfile.unit`). */
  unitsPerS: number;
  /** True for a measured limit, false for one interpolated between two measured ones. */
  measured: boolean;
}

export interface PowerProfile {
  /** For labels: where it came from. */
  name: string;
  /** The GPU model it was measured on, when known (a Zeus file names it: summary_power_a40.csv → A40). */
  gpu?: string;
  /** What one work unit is: 'epoch' for Zeus profiles. */
  unit: string;
  /** Measured limits, ascending by limit. */
  measured: PowerPoint[];
  /** Measured limits plus 5 W-step interpolations, ascending by limit. */
  candidates: PowerPoint[];
  /** Candidates not dominated in (throughput up, energy per unit down), ascending by throughput. */
  efficient: PowerPoint[];
  /**
   * The optimizers' frontier: lower convex hull of (unitsPerS, avgPowerMw) over all candidates, from
   * the slowest to the fastest, ascending. Power is convex in throughput along it; any point between
   * two vertices is reachable by time-sharing them. Vertices slower than the minimum-energy-per-unit
   * one draw less power but need more energy per unit: worth it only in a period dirty enough, and
   * only when the budget leaves time to spare.
   */
  frontier: PowerPoint[];
  /** Index in `frontier` of the vertex with the least energy per unit. */
  minEnergyVertex: number;
  /** The default (highest) limit and its point: the max-power baseline. */
  maxPoint: PowerPoint;
}

/** Looks up a decided limit: the exact candidate, else the nearest one (a live agent clamps the same way). */
export function pointForLimit(profile: PowerProfile, powerLimitMw: number): PowerPoint {
  const c = profile.candidates;
  let best = c[0];
  for (const p of c) if (Math.abs(p.powerLimitMw - powerLimitMw) < Math.abs(best.powerLimitMw - powerLimitMw)) best = p;
  return best;
}

/**
 * The profile at any limit: time per unit and power linear in the limit between the two measured
 * limits around it (the rule the candidates follow), clamped to the measured range. What a simulated
 * GPU draws and how fast it runs at the limit it was set to.
 */
export function pointAtLimit(profile: PowerProfile, powerLimitMw: number): PowerPoint {
  const m = profile.measured;
  if (powerLimitMw <= m[0].powerLimitMw) return m[0];
  const last = m[m.length - 1];
  if (powerLimitMw >= last.powerLimitMw) return last;
  let i = 1;
  while (m[i].powerLimitMw < powerLimitMw) i++;
  return interpolate(m[i - 1], m[i], powerLimitMw);
}

/** The point at `powerLimitMw` between measured points `a` and `b`: time per unit (not throughput) and power linear in the limit. */
function interpolate(a: PowerPoint, b: PowerPoint, powerLimitMw: number): PowerPoint {
  if (powerLimitMw === b.powerLimitMw) return b;
  const f = (powerLimitMw - a.powerLimitMw) / (b.powerLimitMw - a.powerLimitMw);
  const secPerUnit = (1 - f) / a.unitsPerS + f / b.unitsPerS;
  return { powerLimitMw, avgPowerMw: (1 - f) * a.avgPowerMw + f * b.avgPowerMw, unitsPerS: 1 / secPerUnit, measured: false };
}

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

/** mJ per unit: energy to do one unit of work at this point. */
export function energyPerUnitMj(p: PowerPoint): number {
  return p.avgPowerMw / p.unitsPerS;
}

export interface BuildOptions {
  /** Spacing of interpolated candidates, mW (default 5000 = 5 W; 0 = measured limits only). */
  stepMw?: number;
}

/** Builds a profile from measured points (any order; one per limit). */
export function buildProfile(name: string, unit: string, points: Array<Omit<PowerPoint, 'measured'>>, options: BuildOptions & { gpu?: string } = {}): PowerProfile {
  const stepMw = options.stepMw ?? 5000;
  const measured = points
    .map((p) => ({ ...p, measured: true }))
    .sort((a, b) => a.powerLimitMw - b.powerLimitMw);
  if (measured.length === 0) throw new ProfileError(`${name}: no power limits in the profile`);
  for (const p of measured) {
    if (!(p.powerLimitMw > 0 && p.avgPowerMw > 0 && p.unitsPerS > 0) || !Number.isFinite(p.unitsPerS)) {
      throw new ProfileError(`${name}: limit ${p.powerLimitMw} mW has a non-positive or missing power or throughput`);
    }
  }
  for (let i = 1; i < measured.length; i++) {
    if (measured[i].powerLimitMw === measured[i - 1].powerLimitMw) throw new ProfileError(`${name}: limit ${measured[i].powerLimitMw} mW appears twice`);
  }
  const candidates: PowerPoint[] = [measured[0]];
  for (let i = 1; i < measured.length; i++) {
    const a = measured[i - 1];
    const b = measured[i];
    if (stepMw > 0) {
      const first = Math.floor(a.powerLimitMw / stepMw) * stepMw + stepMw;
      for (let lim = first; lim < b.powerLimitMw; lim += stepMw) candidates.push(interpolate(a, b, lim));
    }
    candidates.push(b);
  }
  const maxPoint = measured[measured.length - 1];
  const efficient = paretoByEnergy(candidates);
  const frontier = lowerHull(candidates);
  // A slower point drawing no less power than a faster one is never worth it (noisy profiles have
  // them): the frontier starts at the least-power vertex, so power rises with throughput along it.
  while (frontier.length > 1 && frontier[1].avgPowerMw <= frontier[0].avgPowerMw) frontier.shift();
  let minEnergyVertex = 0;
  for (let k = 1; k < frontier.length; k++) if (energyPerUnitMj(frontier[k]) < energyPerUnitMj(frontier[minEnergyVertex])) minEnergyVertex = k;
  return { name, ...(options.gpu !== undefined ? { gpu: options.gpu } : {}), unit, measured, candidates, efficient, frontier, minEnergyVertex, maxPoint };
}

/** One live measurement window at a fixed power limit. */
export interface LimitMeasurement {
  powerLimitMw: number;
  elapsedMs: number;
  energyJ: number;
  /** Work done in the window, in the job's unit (steps, samples, epochs…). */
  units: number;
}

/**
 * Builds a profile from live measurements (e.g. Zeus-style JIT profiling windows). Windows at the
 * same limit are pooled (total energy / total time, total units / total time).
 */
export function profileFromMeasurements(name: string, unit: string, windows: LimitMeasurement[], options: BuildOptions = {}): PowerProfile {
  const byLimit = new Map<number, { ms: number; j: number; u: number }>();
  for (const w of windows) {
    if (!(w.elapsedMs > 0 && w.energyJ >= 0 && w.units > 0)) throw new ProfileError(`${name}: a measurement at ${w.powerLimitMw} mW has no time, energy or work`);
    const s = byLimit.get(w.powerLimitMw) ?? { ms: 0, j: 0, u: 0 };
    byLimit.set(w.powerLimitMw, { ms: s.ms + w.elapsedMs, j: s.j + w.energyJ, u: s.u + w.units });
  }
  const points = [...byLimit.entries()].map(([lim, s]) => ({
    powerLimitMw: lim,
    avgPowerMw: (s.j / (s.ms / 1000)) * 1000,
    unitsPerS: s.u / (s.ms / 1000),
  }));
  return buildProfile(name, unit, points, options);
}
