/**
 * A rolling record of the GPUs' cumulative energy (each sampler tick, the last 24 h in memory), so the editor can
 * ask "how much energy and carbon did the GPUs use between t0 and t1?" after the fact — e.g. for a
 * notebook cell that ran from t0 to t1. Energy counters are cumulative, so the answer is the counter
 * difference, interpolated between samples; carbon weights each sample interval by the intensity of
 * the carbon period it falls in.
 */
import type { GpuSample } from '../gpu/sampler';
import { carbonOfEnergyG, millijoulesToJoules } from '../protocol/accounting';
import type { EnergyBetweenResult } from '../protocol/messages';
import { DAY_MS } from '../protocol/units';

const KEEP_MS = DAY_MS;

export interface TimelineSample {
  atMs: number;
  /** Energy of all GPUs since the timeline started, mJ. */
  totalMj: number;
}

/** Counter value at `t` by linear interpolation; undefined outside the samples. */
export function energyAt(samples: readonly TimelineSample[], t: number): number | undefined {
  if (samples.length === 0 || t < samples[0].atMs || t > samples[samples.length - 1].atMs) return undefined;
  let lo = 0;
  let hi = samples.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (samples[mid].atMs <= t) lo = mid;
    else hi = mid;
  }
  const a = samples[lo];
  const b = samples[hi];
  return b.atMs === a.atMs ? a.totalMj : a.totalMj + ((b.totalMj - a.totalMj) * (t - a.atMs)) / (b.atMs - a.atMs);
}

/**
 * Energy and carbon between two times. `intensityAt(t)` gives the intensity (g/kWh) of the period
 * containing wall time t. Intervals are split at samples, each weighted by its own midpoint's intensity.
 */
export function energyBetween(samples: readonly TimelineSample[], fromMs: number, toMs: number, intensityAt: (t: number) => number | undefined): { energyJ: number; carbonG: number; coveredMs: number } {
  const lo = Math.max(fromMs, samples[0]?.atMs ?? Infinity);
  const hi = Math.min(toMs, samples[samples.length - 1]?.atMs ?? -Infinity);
  if (!(hi > lo)) return { energyJ: 0, carbonG: 0, coveredMs: 0 };
  const cuts = [lo, ...samples.filter((s) => s.atMs > lo && s.atMs < hi).map((s) => s.atMs), hi];
  let energyJ = 0;
  let carbonG = 0;
  for (let i = 1; i < cuts.length; i++) {
    const j = millijoulesToJoules((energyAt(samples, cuts[i]) ?? 0) - (energyAt(samples, cuts[i - 1]) ?? 0));
    energyJ += j;
    carbonG += carbonOfEnergyG(j, intensityAt((cuts[i] + cuts[i - 1]) / 2) ?? 0);
  }
  return { energyJ, carbonG, coveredMs: hi - lo };
}

/**
 * The record itself: fed with the agent's one GPU sampler's samples (server/telemetry.ts), so the
 * GPUs are read once per second for metrics, history and this alike.
 */
export class EnergyTimeline {
  private readonly samples: TimelineSample[] = [];
  private gpus = 0;

  /** One sampler tick: each GPU's energy since sampling started (mJ), summed. */
  record(gpuSamples: readonly GpuSample[]): void {
    if (gpuSamples.length === 0) return;
    this.gpus = gpuSamples.length;
    const atMs = Math.max(...gpuSamples.map((g) => g.timestampMs));
    this.samples.push({ atMs, totalMj: gpuSamples.reduce((sum, g) => sum + g.energyMj, 0) });
    while (this.samples.length > 2 && this.samples[0].atMs < atMs - KEEP_MS) this.samples.shift();
  }

  /** The part of [fromMs, toMs] the samples cover, if any. */
  covered(fromMs: number, toMs: number): { fromMs: number; toMs: number } | undefined {
    if (this.samples.length === 0) return undefined;
    const lo = Math.max(fromMs, this.samples[0].atMs);
    const hi = Math.min(toMs, this.samples[this.samples.length - 1].atMs);
    return hi > lo ? { fromMs: lo, toMs: hi } : undefined;
  }

  query(fromMs: number, toMs: number, intensityAt: (t: number) => number | undefined): Omit<EnergyBetweenResult, 'gpuCount' | 'simulated'> {
    const r = energyBetween(this.samples, fromMs, toMs, intensityAt);
    return { energyJ: r.energyJ, carbonG: r.carbonG, coveredMs: r.coveredMs };
  }

  get gpuCount(): number {
    return this.gpus;
  }
}
