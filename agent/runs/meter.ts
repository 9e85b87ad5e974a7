/**
 * A run's meter: what its GPUs used and what that cost, against what the same work would have cost
 * at the maximum limit. It reads the GPUs and the carbon signal; it decides nothing.
 *
 * Every sample: energy from the GPUs' counters (or integrated power, gpu/energy.ts), carbon =
 * ΔkWh × the intensity of the period it was used in, and the work done in that period. The
 * max-power baseline is the same work done at the profile's maximum limit, i.e. units / rate(max)
 * seconds at power(max), weighted by the same periods' intensities. Slowdown = elapsed /
 * (units / rate(max)) − 1. (docs/accounting.md)
 */
import type { GpuBackend, GpuInfo } from '../gpu/backend';
import { EnergyMeter } from '../gpu/energy';
import type { PowerProfile } from '../profile/profile';
import { carbonOfEnergyG, millijoulesToJoules, milliwattsToWatts } from '../protocol/accounting';
import type { RunCarbon } from './runCarbon';

interface PeriodBucket {
  intensityGPerKwh: number;
  units: number;
}

/** Raw energy counter of one GPU at the run's first and last sample, mJ (absent without a counter). */
export interface CounterSpan {
  uuid: string;
  firstMj?: number;
  lastMj?: number;
}

export class RunMeter {
  private readonly meters: EnergyMeter[];
  private readonly counters: CounterSpan[];
  private readonly buckets = new Map<number, PeriodBucket>();
  /** Work already credited to a period bucket. */
  private accountedUnits = 0;
  private energyTotalJ = 0;
  private carbonTotalG = 0;
  private lastActivityAtMs: number | undefined;

  /** `gpus`: the run's GPUs (their counters decide how energy is measured). */
  constructor(
    private readonly backend: GpuBackend,
    private readonly gpus: readonly GpuInfo[],
    private readonly carbon: RunCarbon,
  ) {
    this.meters = gpus.map((d) => new EnergyMeter(d.energyCounter));
    this.counters = gpus.map((d) => ({ uuid: d.uuid }));
  }

  get energyJ(): number {
    return this.energyTotalJ;
  }

  get carbonG(): number {
    return this.carbonTotalG;
  }

  /** The GPUs' raw energy counters at the first and the last sample, mJ (for cross-checks). */
  get energyCounters(): CounterSpan[] {
    return this.counters.map((c) => ({ ...c }));
  }

  /** Reads every GPU of the run; returns the energy used since the last sample, mJ. */
  async sample(): Promise<number> {
    let deltaMj = 0;
    for (let k = 0; k < this.gpus.length; k++) {
      const meter = this.meters[k];
      const before = meter.totalMj;
      const reading = await this.backend.read(this.gpus[k].index);
      meter.update(reading);
      if (reading.energyMj !== undefined) {
        this.counters[k].firstMj ??= reading.energyMj;
        this.counters[k].lastMj = reading.energyMj;
      }
      deltaMj += meter.totalMj - before;
    }
    return deltaMj;
  }

  /** Credits a sample's energy with the carbon of the period it fell in, and the work done by then (cumulative units) to that period. */
  async account(deltaMj: number, atMs: number, unitsDone: number): Promise<void> {
    const intensity = await this.carbon.intensityAt(atMs);
    const deltaJ = millijoulesToJoules(deltaMj);
    this.energyTotalJ += deltaJ;
    this.carbonTotalG += carbonOfEnergyG(deltaJ, intensity);
    const period = this.carbon.periodStart(this.carbon.virtualNow(atMs));
    const bucket = this.buckets.get(period) ?? { intensityGPerKwh: intensity, units: 0 };
    bucket.units += unitsDone - this.accountedUnits;
    this.accountedUnits = unitsDone;
    this.buckets.set(period, bucket);
  }

  /**
   * Work done since the last call, as GPU activity, for a job with no progress signal (labelled
   * `gpu-proxy`). Where the backend reads it, utilization × SM clock (work units = busy seconds at
   * 1 GHz, summed over the run's GPUs); else the energy at the maximum limit's power (assumes work ∝
   * energy: cruder).
   */
  activityUnits(deltaMj: number, atMs: number, maxLimitMw: number): number {
    const dtS = this.lastActivityAtMs === undefined ? 0 : (atMs - this.lastActivityAtMs) / 1000;
    this.lastActivityAtMs = atMs;
    const activity = this.gpus.map((d) => this.backend.activity?.(d.index));
    let busy = 0;
    for (const a of activity) {
      if (a === undefined) return deltaMj / maxLimitMw;
      busy += a / 1000;
    }
    return busy * dtS;
  }

  /** Energy and carbon of the work done so far had it all run at the profile's maximum limit. */
  baseline(profile: PowerProfile): { energyJ: number; carbonG: number } {
    const max = profile.maxPoint;
    let energyJ = 0;
    let carbonG = 0;
    for (const b of this.buckets.values()) {
      const j = (b.units / max.unitsPerS) * milliwattsToWatts(max.avgPowerMw);
      energyJ += j;
      carbonG += carbonOfEnergyG(j, b.intensityGPerKwh);
    }
    return { energyJ, carbonG };
  }
}

/** Time taken against the time the same work takes at the profile's maximum limit, %; undefined before any work. */
export function slowdownPct(profile: PowerProfile, elapsedMs: number, unitsDone: number): number | undefined {
  return unitsDone > 0 ? (elapsedMs / 1000 / (unitsDone / profile.maxPoint.unitsPerS) - 1) * 100 : undefined;
}
