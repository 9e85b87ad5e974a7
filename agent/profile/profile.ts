/**
 * Power profiles: how fast a training job runs and how much power it draws at each GPU power limit.
 *
 * A `PowerProfile` is what every policy in agent/control decides over. It can come from a Zeus
 * profile CSV (`loadZeusProfile`, unit = one epoch) or from live measurements of time, energy and
 * work done per limit (`profileFromMeasurements`, unit = whatever the job counts: steps, samples…).
 *
 * Besides the measured limits, a profile holds 5 W-step candidates between adjacent measured limits,
 * with time per unit and average power interpolated linearly in the limit (the GPU is set in mW, so
 * any of them can be applied), and the frontier used by the optimizers: the lower convex hull of
 * (throughput, power) (see frontier.ts).
 */
import { basename } from 'node:path';
import { lowerHull, paretoByEnergy } from './frontier';
import { FileRefusedError, readRegularFile } from '../files';
import { parseDecimal } from '../decimal';

/** Largest profile file read (Zeus's summary_power_*.csv files are about 100 KB). */
const MAX_PROFILE_BYTES = 16 * 1024 * 1024;

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
export function buildProfile(name: string, unit: string, points: Array<Omit<PowerPoint, 'measured'>>, options: BuildOptions = {}): PowerProfile {
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
      // Interpolate time per unit (not throughput) and power linearly in the limit.
      const first = Math.floor(a.powerLimitMw / stepMw) * stepMw + stepMw;
      for (let lim = first; lim < b.powerLimitMw; lim += stepMw) {
        const f = (lim - a.powerLimitMw) / (b.powerLimitMw - a.powerLimitMw);
        const secPerUnit = (1 - f) / a.unitsPerS + f / b.unitsPerS;
        candidates.push({ powerLimitMw: lim, avgPowerMw: (1 - f) * a.avgPowerMw + f * b.avgPowerMw, unitsPerS: 1 / secPerUnit, measured: false });
      }
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
  return { name, unit, measured, candidates, efficient, frontier, minEnergyVertex, maxPoint };
}

export interface ZeusSelection {
  /** Network column, e.g. resnet50. */
  workload: string;
  batch: number;
  /** Optional filters when several datasets / optimizers match. */
  dataset?: string;
  optimizer?: string;
}

/**
 * Reads a Zeus `summary_power_*.csv` (dataset,network,batch_size,optimizer,power_limit[W],
 * time_per_epoch[s],average_power[W]) and selects one workload. When several (dataset, optimizer)
 * pairs match, the first in alphabetical order is taken and `note` says which and what else matched.
 */
export function loadZeusProfile(file: string, workload: string, batch: number, options: BuildOptions & { dataset?: string; optimizer?: string } = {}): PowerProfile & { note?: string } {
  let text: string;
  try {
    text = readRegularFile(file, MAX_PROFILE_BYTES);
  } catch (e) {
    if (e instanceof FileRefusedError) throw new ProfileError(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    throw new ProfileError(`${file}: ${code === 'ENOENT' ? 'profile file not found' : `cannot read profile (${code ?? String(e)})`}`);
  }
  return parseZeusProfile(text, basename(file), { workload, batch, dataset: options.dataset, optimizer: options.optimizer }, options);
}

export function parseZeusProfile(text: string, name: string, sel: ZeusSelection, options: BuildOptions = {}): PowerProfile & { note?: string } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const col = (n: string) => {
    const i = header.indexOf(n);
    if (i < 0) throw new ProfileError(`${name}: no "${n}" column; expected a Zeus summary_power CSV (dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power)`);
    return i;
  };
  const [iDs, iNet, iBatch, iOpt, iLim, iTime, iPow] = ['dataset', 'network', 'batch_size', 'optimizer', 'power_limit', 'time_per_epoch', 'average_power'].map(col);
  const groups = new Map<string, Map<number, { t: number; p: number; n: number }>>();
  const seen = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    const c = lines[i].split(',').map((s) => s.trim());
    seen.add(`${c[iNet]}@${c[iBatch]}`);
    if (c[iNet] !== sel.workload || Number(c[iBatch]) !== sel.batch) continue;
    if (sel.dataset && c[iDs] !== sel.dataset) continue;
    if (sel.optimizer && c[iOpt] !== sel.optimizer) continue;
    const key = `${c[iDs]}/${c[iOpt]}`;
    const [lim, t, p] = [c[iLim], c[iTime], c[iPow]].map((x) => parseDecimal(x ?? ''));
    if (lim === undefined || t === undefined || p === undefined) throw new ProfileError(`${name}: line ${i + 1}: power_limit, time_per_epoch and average_power must be decimal numbers`);
    const g = groups.get(key) ?? new Map<number, { t: number; p: number; n: number }>();
    const prev = g.get(lim) ?? { t: 0, p: 0, n: 0 };
    g.set(lim, { t: prev.t + t, p: prev.p + p, n: prev.n + 1 }); // repeated rows: averaged
    groups.set(key, g);
  }
  if (groups.size === 0) {
    const avail = [...seen].filter((s) => s.startsWith(`${sel.workload}@`)).map((s) => s.split('@')[1]);
    const hint = avail.length > 0 ? `batch sizes for ${sel.workload}: ${avail.join(', ')}` : `workloads: ${[...new Set([...seen].map((s) => s.split('@')[0]))].join(', ')}`;
    throw new ProfileError(`${name}: no rows for --workload ${sel.workload} --batch ${sel.batch}${sel.dataset ? ` --dataset ${sel.dataset}` : ''}${sel.optimizer ? ` --optimizer ${sel.optimizer}` : ''} (${hint})`);
  }
  const keys = [...groups.keys()].sort();
  const chosen = keys[0];
  const rows = groups.get(chosen)!;
  const points = [...rows.entries()].map(([limW, r]) => ({
    powerLimitMw: limW * 1000,
    avgPowerMw: (r.p / r.n) * 1000,
    unitsPerS: 1 / (r.t / r.n),
  }));
  const profile = buildProfile(`${name} ${sel.workload} b${sel.batch} ${chosen}`, 'epoch', points, options);
  return keys.length > 1 ? { ...profile, note: `${keys.length} dataset/optimizer pairs match (${keys.join(', ')}); using ${chosen} (first alphabetically; pass --dataset/--optimizer to choose)` } : profile;
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
