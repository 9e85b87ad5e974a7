/**
 * Energy accounting per GPU. Volta and newer GPUs have a hardware energy counter
 * (nvmlDeviceGetTotalEnergyConsumption, mJ): the meter uses its deltas. Older GPUs, or a counter
 * that stops answering, fall back to integrating polled power (trapezoid rule), which misses what
 * happens between polls; `source` says which is in use.
 *
 * A counter that goes backwards (driver reload resets it) contributes nothing for that interval.
 */
import type { GpuReading } from './backend';
import { energyFromCounterJ, integratePowerJ, joulesToMillijoules } from '../protocol/accounting';

export type EnergySource = 'counter' | 'integrated';

export class EnergyMeter {
  /** Energy since the first reading, mJ. */
  totalMj = 0;
  source: EnergySource;
  private lastCounterMj: number | undefined;
  private lastPowerMw: number | undefined;
  private lastTimestampMs: number | undefined;

  constructor(hasCounter: boolean) {
    this.source = hasCounter ? 'counter' : 'integrated';
  }

  update(r: GpuReading): number {
    if (this.source === 'counter' && r.energyMj === undefined) {
      this.source = 'integrated';
      this.lastCounterMj = undefined;
    }
    if (this.source === 'counter' && r.energyMj !== undefined) {
      const deltaJ = this.lastCounterMj !== undefined ? energyFromCounterJ(this.lastCounterMj, r.energyMj) : null;
      if (deltaJ !== null) this.totalMj += joulesToMillijoules(deltaJ);
      this.lastCounterMj = r.energyMj;
    } else if (this.lastPowerMw !== undefined && this.lastTimestampMs !== undefined && r.timestampMs > this.lastTimestampMs) {
      const points = [{ timestampMs: this.lastTimestampMs, powerMw: this.lastPowerMw }, { timestampMs: r.timestampMs, powerMw: r.powerMw }];
      this.totalMj += joulesToMillijoules(integratePowerJ(points));
    }
    this.lastPowerMw = r.powerMw;
    this.lastTimestampMs = r.timestampMs;
    return this.totalMj;
  }
}
