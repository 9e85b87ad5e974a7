/** Records of the history database, in the project's units (mW, mJ, J, g, g/kWh, epoch ms UTC). */

export interface IntensityRecord {
  zone: string;
  /** Provider kind or label, e.g. "electricitymaps", "replay". */
  source: string;
  /** Start of the period, epoch ms UTC. */
  timestampMs: number;
  intensityGPerKwh: number;
  /** Absent or 0 for an actual reading; for a forecast point, when the forecast was made (its vintage). */
  forecastVintageMs?: number;
  lowGPerKwh?: number;
  highGPerKwh?: number;
}

export interface DecisionRecord {
  runId?: string;
  timestampMs: number;
  intensityGPerKwh?: number;
  forecastGPerKwh?: number;
  powerLimitMw: number;
  expectedSavingG?: number;
}

export interface GpuSampleRecord {
  timestampMs: number;
  gpuUuid: string;
  powerMw: number;
  powerLimitMw: number;
  /** Energy counter (mJ), monotone per GPU. */
  energyMj?: number;
  utilizationPct?: number;
}

export interface StoredGpuSample extends GpuSampleRecord {
  /** Length of time the row stands for: 1000 for a raw 1 Hz sample, 60000 for a 1-min mean, ... */
  resolutionMs: number;
}

export interface GpuRecord {
  uuid: string;
  name?: string;
  index?: number;
}

export type RunStatus = 'running' | 'completed' | 'failed' | 'stopped' | 'interrupted';

export interface RunRecord {
  id: string;
  command: string;
  startMs: number;
  endMs?: number;
  gpuUuids: string[];
  policy?: string;
  budgetPct?: number;
  energyJ: number;
  carbonG: number;
  baselineCarbonG?: number;
  slowdownPct?: number;
  exitCode?: number;
  status: RunStatus;
  zone?: string;
  source?: string;
  /** Free-form JSON-able details (project name, workload key, ...). */
  meta?: Record<string, unknown>;
}

export type RunUpdate = Partial<Omit<RunRecord, 'id'>>;

export interface ProfileRecord {
  gpuModel: string;
  workloadKey: string;
  powerLimitMw: number;
  /** Time per epoch (or per the profiler's unit of work) at this limit. */
  epochMs: number;
  /** Energy per epoch at this limit. */
  energyJ: number;
  updatedMs: number;
}
