/**
 * Geometry of a power profile in the (throughput, power) plane.
 *
 * `paretoByEnergy` keeps the points worth choosing at all: a point that is both slower and needs more
 * energy per unit than another never helps, whatever the carbon intensity. `lowerHull` then gives the
 * frontier the optimizers work on: power as a convex, piecewise-linear function of throughput.
 */
import type { PowerPoint } from './profile';

/** Points not dominated by a faster point with lower or equal energy per unit, ascending by throughput. */
export function paretoByEnergy(points: readonly PowerPoint[]): PowerPoint[] {
  const byFastest = [...points].sort((a, b) => b.unitsPerS - a.unitsPerS || a.avgPowerMw - b.avgPowerMw);
  const kept: PowerPoint[] = [];
  let bestEnergy = Infinity;
  for (const p of byFastest) {
    const e = p.avgPowerMw / p.unitsPerS;
    if (e < bestEnergy) {
      kept.push(p);
      bestEnergy = e;
    }
  }
  return kept.reverse();
}

/** Lower convex hull of (unitsPerS, avgPowerMw), ascending by throughput (monotone chain). */
export function lowerHull(points: readonly PowerPoint[]): PowerPoint[] {
  const sorted = [...points].sort((a, b) => a.unitsPerS - b.unitsPerS || a.avgPowerMw - b.avgPowerMw);
  const hull: PowerPoint[] = [];
  for (const p of sorted) {
    if (hull.length > 0 && hull[hull.length - 1].unitsPerS === p.unitsPerS) continue; // same speed, higher power
    while (hull.length >= 2) {
      const a = hull[hull.length - 2];
      const b = hull[hull.length - 1];
      // Drop b if it lies on or above the chord a→p.
      const cross = (b.unitsPerS - a.unitsPerS) * (p.avgPowerMw - a.avgPowerMw) - (b.avgPowerMw - a.avgPowerMw) * (p.unitsPerS - a.unitsPerS);
      if (cross <= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  return hull;
}

/** Slopes dP/dr of the hull edges, mW per (unit/s) = mJ per unit; increasing along a convex hull. */
export function edgeSlopes(hull: readonly PowerPoint[]): Float64Array {
  const s = new Float64Array(Math.max(0, hull.length - 1));
  for (let k = 0; k < s.length; k++) {
    s[k] = (hull[k + 1].avgPowerMw - hull[k].avgPowerMw) / (hull[k + 1].unitsPerS - hull[k].unitsPerS);
  }
  return s;
}
