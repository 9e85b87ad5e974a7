/**
 * The budgeted carbon allocation, solved exactly as a small linear programme.
 *
 * Given intensities c_s (g/kWh) for periods of length ℓ_s (s), the work still to do W (units) and the
 * frontier (power convex and piecewise linear in throughput), choose a throughput r_s per period on
 * the frontier so that Σ ℓ_s·r_s = W and Σ c_s·ℓ_s·P(r_s) is least. Its Lagrangian splits per period:
 * minimise c_s·P(r) − λ·r, i.e. move from vertex k to k+1 while λ > c_s·σ_k (σ_k the slope of edge
 * k). Work is then a non-decreasing step function of λ; sweeping the breakpoints c_s·σ_k in order
 * finds the λ at which the work fits, and the periods sitting exactly on that breakpoint share the
 * remaining work (the fraction `frac` of the way to the next vertex). No iteration, no tolerance.
 *
 * `prepareAllocation` sorts the breakpoints once; `solve(units)` is then a linear sweep, so the same
 * periods can be solved for many amounts of work (the policies' one-step lookahead does).
 */
import { edgeSlopes } from '../profile/frontier';
import type { PowerPoint } from '../profile/profile';

export interface Allocation {
  /** 'fits': Σℓ·r = W; 'slack': even the slowest frontier point does W early; 'short': even the fastest cannot. */
  status: 'fits' | 'slack' | 'short';
  /** Shadow price of time (g/kWh × mJ per unit), the breakpoint where the work fits; 0 when not binding. */
  lambda: number;
  /** Per period: the frontier vertex it sits at and the fraction of the way to the next one. */
  vertex: Int32Array;
  frac: Float64Array;
}

export interface PreparedAllocation {
  /** Work done by the slowest and by the fastest vertex in every period. */
  readonly workMin: number;
  readonly workMax: number;
  solve(units: number): Allocation;
  /** Σ c·ℓ·P of the solution (g/kWh × mW × s), Infinity when 'short'; 'slack' counts the slowest vertex for all periods. */
  carbon(units: number): number;
}

export function prepareAllocation(frontier: readonly PowerPoint[], intensities: ArrayLike<number>, lengthsS: ArrayLike<number>, slopes: Float64Array = edgeSlopes(frontier)): PreparedAllocation {
  const n = intensities.length;
  const m = frontier.length;
  const edges = m - 1;
  let workMin = 0;
  let workMax = 0;
  let carbonMin = 0;
  for (let s = 0; s < n; s++) {
    workMin += lengthsS[s] * frontier[0].unitsPerS;
    workMax += lengthsS[s] * frontier[m - 1].unitsPerS;
    carbonMin += Math.max(0, intensities[s]) * lengthsS[s] * frontier[0].avgPowerMw;
  }
  // Events (λ, period, edge) sorted by λ; within a period edges come in order because σ increases.
  // Ties are broken by event index, and a group of equal λ is shared evenly (see solve).
  const count = n * edges;
  const lam = new Float64Array(count);
  const order = new Int32Array(count);
  for (let s = 0; s < n; s++) {
    // A zero intensity still orders its edges (a free period should not waste energy either) and
    // keeps one period's edges from tying with each other.
    const c = Math.max(1e-300, intensities[s]);
    for (let k = 0; k < edges; k++) lam[s * edges + k] = c * slopes[k];
  }
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((a, b) => lam[a] - lam[b] || a - b);
  // Per event: work and carbon added by moving its period across its edge.
  const dWork = new Float64Array(count);
  const dCarbon = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const e = order[i];
    const s = Math.floor(e / edges);
    const k = e % edges;
    dWork[i] = lengthsS[s] * (frontier[k + 1].unitsPerS - frontier[k].unitsPerS);
    dCarbon[i] = Math.max(0, intensities[s]) * lengthsS[s] * (frontier[k + 1].avgPowerMw - frontier[k].avgPowerMw);
  }
  // Group boundaries: events whose λ equals the group's first within a relative 1e-12 (equal forecasts must tie).
  const groupEnd = new Int32Array(count);
  for (let i = 0; i < count; ) {
    let j = i;
    const l0 = lam[order[i]];
    while (j < count && lam[order[j]] <= l0 + Math.abs(l0) * 1e-12) j++;
    for (let q = i; q < j; q++) groupEnd[q] = j;
    i = j;
  }

  const sweep = (units: number, fill?: { vertex: Int32Array; frac: Float64Array }): { status: Allocation['status']; lambda: number; carbon: number } => {
    if (workMin >= units || edges === 0) return { status: workMin >= units ? 'slack' : 'short', lambda: 0, carbon: workMin >= units ? carbonMin : Infinity };
    if (workMax < units * (1 - 1e-12)) {
      fill?.vertex.fill(m - 1);
      return { status: 'short', lambda: Infinity, carbon: Infinity };
    }
    let work = workMin;
    let carbon = carbonMin;
    for (let i = 0; i < count; ) {
      const j = groupEnd[i];
      let inc = 0;
      let incC = 0;
      for (let q = i; q < j; q++) {
        inc += dWork[q];
        incC += dCarbon[q];
      }
      if (work + inc >= units) {
        const phi = inc > 0 ? (units - work) / inc : 0;
        if (fill) {
          for (let q = i; q < j; q++) {
            const e = order[q];
            fill.vertex[Math.floor(e / edges)] = e % edges;
            fill.frac[Math.floor(e / edges)] = phi;
          }
        }
        return { status: 'fits', lambda: lam[order[i]], carbon: carbon + phi * incC };
      }
      if (fill) for (let q = i; q < j; q++) fill.vertex[Math.floor(order[q] / edges)] = (order[q] % edges) + 1;
      work += inc;
      carbon += incC;
      i = j;
    }
    return { status: 'fits', lambda: lam[order[count - 1]], carbon };
  };

  return {
    workMin,
    workMax,
    solve(units) {
      const fill = { vertex: new Int32Array(n), frac: new Float64Array(n) };
      const r = sweep(units, fill);
      return { status: r.status, lambda: r.lambda, vertex: fill.vertex, frac: fill.frac };
    },
    carbon: (units) => sweep(units).carbon,
  };
}

export function allocate(frontier: readonly PowerPoint[], intensities: ArrayLike<number>, lengthsS: ArrayLike<number>, units: number, slopes: Float64Array = edgeSlopes(frontier)): Allocation {
  return prepareAllocation(frontier, intensities, lengthsS, slopes).solve(units);
}

/** The throughput and power of a period's allocation (a time-shared point on the frontier edge). */
export function allocatedPoint(frontier: readonly PowerPoint[], vertex: number, frac: number): { unitsPerS: number; avgPowerMw: number } {
  const a = frontier[vertex];
  if (frac <= 0 || vertex + 1 >= frontier.length) return { unitsPerS: a.unitsPerS, avgPowerMw: a.avgPowerMw };
  const b = frontier[vertex + 1];
  return { unitsPerS: a.unitsPerS + frac * (b.unitsPerS - a.unitsPerS), avgPowerMw: a.avgPowerMw + frac * (b.avgPowerMw - a.avgPowerMw) };
}
