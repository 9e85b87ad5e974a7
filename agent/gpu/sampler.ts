/**
 * The agent's GPU sampling loop: every `periodMs`, read power, limit and energy of each GPU and keep
 * the latest sample (plus an energy meter per GPU). Synchronous backends (NVML, simulated) are read
 * without promises; one tick for 8 GPUs costs a few tens of µs (bench/gpu/results.md).
 */
import type { GpuBackend, GpuInfo, GpuReading } from './backend';
import { EnergyMeter, type EnergySource } from './energy';
import type { Logger } from '../log';

export interface GpuSample {
  uuid: string;
  index: number;
  timestampMs: number;
  powerMw: number;
  powerLimitMw: number;
  /** Energy since sampling started, mJ. */
  energyMj: number;
  energySource: EnergySource;
}

export interface GpuSamplerOptions {
  periodMs: number;
  log?: Logger;
  onSample?: (samples: GpuSample[]) => void;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

export class GpuSampler {
  private readonly meters: EnergyMeter[];
  private readonly latestSamples: (GpuSample | undefined)[];
  private handle: unknown;
  private busy = false;
  private lastError = '';

  constructor(
    private readonly backend: GpuBackend,
    private readonly devices: GpuInfo[],
    private readonly options: GpuSamplerOptions,
  ) {
    this.meters = devices.map((d) => new EnergyMeter(d.energyCounter));
    this.latestSamples = devices.map(() => undefined);
  }

  private record(i: number, r: GpuReading): void {
    const d = this.devices[i];
    const meter = this.meters[i];
    const energyMj = meter.update(r);
    this.latestSamples[i] = { uuid: d.uuid, index: d.index, timestampMs: r.timestampMs, powerMw: r.powerMw, powerLimitMw: r.powerLimitMw, energyMj, energySource: meter.source };
  }

  private fail(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg !== this.lastError) this.options.log?.warn(`GPU sampling failed: ${msg}`);
    this.lastError = msg;
  }

  /** Reads every GPU once. */
  async sampleOnce(): Promise<void> {
    const readSync = this.backend.readSync?.bind(this.backend);
    if (readSync) {
      for (let i = 0; i < this.devices.length; i++) {
        try {
          this.record(i, readSync(this.devices[i].index));
        } catch (e) {
          this.fail(e);
        }
      }
    } else {
      const results = await Promise.allSettled(this.devices.map((d) => this.backend.read(d.index)));
      results.forEach((r, i) => (r.status === 'fulfilled' ? this.record(i, r.value) : this.fail(r.reason)));
    }
    this.options.onSample?.(this.latest());
  }

  latest(): GpuSample[] {
    return this.latestSamples.filter((s): s is GpuSample => s !== undefined);
  }

  start(): void {
    if (this.handle !== undefined) return;
    const set = this.options.setInterval ?? ((fn: () => void, ms: number) => setInterval(fn, ms));
    this.handle = set(() => {
      if (this.busy) return; // a slow (zeusd) round is still running: skip this tick
      this.busy = true;
      this.sampleOnce()
        .catch((e: unknown) => this.fail(e))
        .finally(() => {
          this.busy = false;
        });
    }, this.options.periodMs);
  }

  stop(): void {
    if (this.handle === undefined) return;
    const clear = this.options.clearInterval ?? ((h: unknown) => clearInterval(h as NodeJS.Timeout));
    clear(this.handle);
    this.handle = undefined;
  }
}
