/**
 * The GPU chart's data: per GPU a power-limit line and a power-draw line, in W, over the samples the
 * extension posts every 5 s. Pure (no DOM), so the page's logic is unit-tested and benchmarked in Node.
 */
import type { GpusResult } from '../../agent/protocol/messages';

export interface XY {
  x: number;
  y: number;
}

export interface GpuSample {
  atMs: number;
  gpus: GpusResult;
}

/** One line of the chart; `points` is what chart.js draws. */
export interface GpuLine {
  uuid: string;
  gpuIndex: number;
  kind: 'limit' | 'power';
  label: string;
  points: XY[];
}

export class GpuSeries {
  /** In display order: per GPU its limit, then its draw. */
  lines: GpuLine[] = [];
  /** Points written into `lines` so far (bench/dashboard counts the work per sample). */
  pointsWritten = 0;
  private readonly samples: GpuSample[] = [];

  constructor(private readonly maxSamples: number) {}

  /** Adds a sample (dropping the oldest beyond `maxSamples`) and rebuilds every line from all samples. */
  add(sample: GpuSample): void {
    this.samples.push(sample);
    this.samples.splice(0, Math.max(0, this.samples.length - this.maxSamples));
    const t0 = this.samples[0].atMs;
    this.lines = sample.gpus.gpus.flatMap((g) => {
      const points = (pick: (x: GpusResult['gpus'][number]) => number) =>
        this.samples.flatMap((s) => s.gpus.gpus.filter((x) => x.uuid === g.uuid).map((x) => ({ x: (s.atMs - t0) / 60_000, y: pick(x) / 1000 })));
      const limit = points((x) => x.powerLimitMw);
      const power = points((x) => x.powerMw);
      this.pointsWritten += limit.length + power.length;
      return [
        { uuid: g.uuid, gpuIndex: g.index, kind: 'limit' as const, label: `GPU ${g.index} limit`, points: limit },
        { uuid: g.uuid, gpuIndex: g.index, kind: 'power' as const, label: `GPU ${g.index} power`, points: power },
      ];
    });
  }
}
