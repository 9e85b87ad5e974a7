/**
 * `simulated` backend: the embedded default when no NVIDIA driver is present. Each GPU draws the
 * power, and runs at the speed, that a measured profile gives for its current power limit (Zeus
 * NSDI '23, A40 ResNet-50 batch 128 by default: agent/profile/zeus.ts). Its energy counter advances
 * with that power over the injected clock, and changes when the limit changes. Always labelled as
 * simulated.
 *
 * Energy model: power is piecewise constant between limit changes, so energy(t) = banked energy +
 * power(limit) × (t − t_bank); setting a limit first banks the energy at the old power.
 *
 * A simulated job (sample-workspace/train_demo.py) follows its GPUs' speed through a small file
 * (`simulatedJob`): {"relativeThroughput": r, "powerLimitMw": …}, r = 1 at the maximum limit, of the
 * slowest of its GPUs (a data-parallel job runs at its slowest GPU's pace), rewritten whenever one
 * of their limits changes.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuBackend, GpuControl, GpuInfo, GpuReading, SimulatedJobLink } from '../backend';
import { GpuError } from '../errors';
import { pointAtLimit, type PowerProfile } from '../../profile/profile';

interface SimGpu {
  info: GpuInfo;
  limitMw: number;
  energyMj: number;
  bankedAtMs: number;
}

export interface SimulatedBackendOptions {
  profile: PowerProfile;
  /** Number of GPUs (default 1). */
  count?: number;
  /** Injectable clock, epoch ms. */
  now?: () => number;
}

/** A job's throughput file and the GPUs it follows. */
interface JobFeed {
  indices: readonly number[];
  dir: string;
  file: string;
}

export class SimulatedBackend implements GpuBackend {
  readonly kind = 'simulated' as const;
  readonly simulated = true;
  readonly label: string;
  private readonly gpus: SimGpu[] = [];
  private readonly now: () => number;
  private readonly feeds = new Set<JobFeed>();

  constructor(readonly options: SimulatedBackendOptions) {
    const { profile } = options;
    this.now = options.now ?? Date.now;
    const model = profile.gpu ?? 'GPU';
    this.label = `simulated ${model} (${profile.name})`;
    const minMw = profile.measured[0].powerLimitMw;
    const maxMw = profile.maxPoint.powerLimitMw;
    const t = this.now();
    for (let index = 0; index < (options.count ?? 1); index++) {
      this.gpus.push({
        info: {
          index,
          uuid: `SIM-GPU-${model}-${String(index).padStart(4, '0')}`,
          name: `NVIDIA ${model} (simulated)`,
          busId: `00000000:${(index + 1).toString(16).padStart(2, '0').toUpperCase()}:00.0`,
          architecture: 'simulated',
          minLimitMw: minMw,
          maxLimitMw: maxMw,
          defaultLimitMw: maxMw,
          migEnabled: false,
          energyCounter: true,
        },
        limitMw: maxMw,
        energyMj: 0,
        bankedAtMs: t,
      });
    }
  }

  private gpu(index: number): SimGpu {
    const g = this.gpus[index];
    if (!g) throw new GpuError(`No simulated GPU with index ${index} (there are ${this.gpus.length}).`, 'GPU_NOT_FOUND');
    return g;
  }

  devices(): GpuInfo[] {
    return this.gpus.map((g) => g.info);
  }

  /** Power drawn at a limit, whole mW (as NVML reports it). */
  private powerAtMw(limitMw: number): number {
    return Math.round(pointAtLimit(this.options.profile, limitMw).avgPowerMw);
  }

  /** Power drawn at the GPU's current limit, mW. */
  powerMw(index: number): number {
    return this.powerAtMw(this.gpu(index).limitMw);
  }

  /** Time one unit (an epoch for Zeus profiles) of the profiled workload takes at the current limit, ms (throughput = 1 / this). */
  epochMs(index: number): number {
    return 1000 / pointAtLimit(this.options.profile, this.gpu(index).limitMw).unitsPerS;
  }

  /** The job's env names a file (in a private temporary folder) that follows its GPUs' speed until `close()`. */
  simulatedJob(indices: readonly number[]): SimulatedJobLink {
    for (const i of indices) this.gpu(i);
    const dir = mkdtempSync(join(tmpdir(), 'chase-sim-job-'));
    const feed: JobFeed = { indices: [...indices], dir, file: join(dir, 'throughput.json') };
    this.feeds.add(feed);
    this.writeFeed(feed);
    return { env: { CHASE_SIM_THROUGHPUT_FILE: feed.file }, close: () => this.closeFeed(feed) };
  }

  private closeFeed(feed: JobFeed): void {
    this.feeds.delete(feed);
    rmSync(feed.dir, { recursive: true, force: true });
  }

  /** Written whole and renamed into place: the job never reads half a file. */
  private writeFeed(feed: JobFeed): void {
    const slowest = feed.indices.reduce((a, b) => (this.epochMs(b) > this.epochMs(a) ? b : a), feed.indices[0]);
    if (slowest === undefined) return;
    const g = this.gpu(slowest);
    const atMax = 1000 / pointAtLimit(this.options.profile, g.info.maxLimitMw).unitsPerS;
    try {
      writeFileSync(`${feed.file}.new`, JSON.stringify({ relativeThroughput: atMax / this.epochMs(slowest), powerLimitMw: g.limitMw }));
      renameSync(`${feed.file}.new`, feed.file);
    } catch {
      // its folder is gone (closed meanwhile): nobody reads it any more
    }
  }

  /** Fully busy, at an SM clock that scales with throughput (1740 MHz at the maximum limit). */
  activity(index: number): number {
    const { profile } = this.options;
    return (1740 * pointAtLimit(profile, this.gpu(index).limitMw).unitsPerS) / profile.maxPoint.unitsPerS;
  }

  private energyAt(g: SimGpu, t: number): number {
    return g.energyMj + (this.powerAtMw(g.limitMw) * Math.max(0, t - g.bankedAtMs)) / 1000;
  }

  readSync(index: number): GpuReading {
    const g = this.gpu(index);
    const t = this.now();
    return { timestampMs: t, powerMw: this.powerMw(index), energyMj: this.energyAt(g, t), powerLimitMw: g.limitMw };
  }

  async read(index: number): Promise<GpuReading> {
    return this.readSync(index);
  }

  async getPowerLimit(index: number): Promise<number> {
    return this.gpu(index).limitMw;
  }

  async control(index: number): Promise<GpuControl> {
    this.gpu(index);
    return { state: 'permitted' };
  }

  setPowerLimitSync(index: number, limitMw: number): void {
    const g = this.gpu(index);
    if (limitMw < g.info.minLimitMw || limitMw > g.info.maxLimitMw) {
      throw new GpuError(`Power limit ${limitMw} mW is outside ${g.info.minLimitMw}-${g.info.maxLimitMw} mW for simulated GPU ${index}.`, 'ERROR_INVALID_ARGUMENT');
    }
    const t = this.now();
    g.energyMj = this.energyAt(g, t);
    g.bankedAtMs = t;
    g.limitMw = limitMw;
    for (const feed of this.feeds) if (feed.indices.includes(index)) this.writeFeed(feed);
  }

  async setPowerLimit(index: number, limitMw: number): Promise<void> {
    this.setPowerLimitSync(index, limitMw);
  }

  async close(): Promise<void> {
    // nothing to release but job feeds their runs left open
    for (const feed of [...this.feeds]) this.closeFeed(feed);
  }
}
