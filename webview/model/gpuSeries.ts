/**
 * The GPU chart's data: per GPU a power-limit line and a power-draw line, in W, over the samples the
 * extension posts every 5 s. Incremental: a sample appends one point to each line and drops the
 * points that fell out of the window; lines (and their point arrays, which chart.js draws and watches)
 * are created once per GPU and kept, so the chart re-draws without rebuilding its datasets.
 * Pure (no DOM), so the page's logic is unit-tested and benchmarked in Node.
 */
import type { GpusResult } from '../../agent/protocol/messages';
import { milliwattsToWatts } from '../../agent/protocol/accounting';

export interface XY {
  x: number;
  y: number;
}

export interface GpuSample {
  atMs: number;
  gpus: GpusResult;
}

/** One line of the chart: x epoch ms, y W. `points` is the array chart.js draws. */
export interface GpuLine {
  uuid: string;
  gpuIndex: number;
  kind: 'limit' | 'power';
  label: string;
  points: XY[];
}

/** What one sample changed in the set of lines (the chart adds or removes only those datasets). */
export interface GpuSeriesChange {
  added: GpuLine[];
  removed: GpuLine[];
}


export class GpuSeries {
  /** In the order GPUs first appeared: per GPU its limit, then its draw. */
  readonly lines: GpuLine[] = [];
  /** Points written into `lines` so far (bench/dashboard counts the work per sample). */
  pointsWritten = 0;
  /** The first sample's time: the axis counts from here, so its ticks stay put as old samples drop out. */
  originMs: number | undefined;
  /** Times of the samples held, oldest first: the window is the newest `maxSamples`. */
  private readonly sampleTimes: number[] = [];

  constructor(private readonly maxSamples: number) {}

  get firstMs(): number | undefined {
    return this.sampleTimes[0];
  }

  get lastMs(): number | undefined {
    return this.sampleTimes[this.sampleTimes.length - 1];
  }

  add(sample: GpuSample): GpuSeriesChange {
    const change: GpuSeriesChange = { added: [], removed: [] };
    if (this.lastMs !== undefined && sample.atMs < this.lastMs) return change; // out of order: keep the lines monotonic
    this.originMs ??= sample.atMs;
    this.sampleTimes.push(sample.atMs);
    if (this.sampleTimes.length > this.maxSamples) this.sampleTimes.shift();
    for (const g of sample.gpus.gpus) {
      let limit = this.lines.find((l) => l.uuid === g.uuid && l.kind === 'limit');
      let power = this.lines.find((l) => l.uuid === g.uuid && l.kind === 'power');
      if (!limit || !power) {
        limit = { uuid: g.uuid, gpuIndex: g.index, kind: 'limit', label: `GPU ${g.index} limit`, points: [] };
        power = { uuid: g.uuid, gpuIndex: g.index, kind: 'power', label: `GPU ${g.index} draw`, points: [] };
        this.lines.push(limit, power);
        change.added.push(limit, power);
      }
      limit.points.push({ x: sample.atMs, y: milliwattsToWatts(g.powerLimitMw) });
      power.points.push({ x: sample.atMs, y: milliwattsToWatts(g.powerMw) });
      this.pointsWritten += 2;
    }
    // Drop what fell out of the window; a GPU no longer reported disappears with its last point.
    const fromMs = this.sampleTimes[0];
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const points = this.lines[i].points;
      while (points.length > 0 && points[0].x < fromMs) points.shift();
      if (points.length === 0) change.removed.push(...this.lines.splice(i, 1));
    }
    return change;
  }
}
