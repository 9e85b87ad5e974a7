/**
 * Glue for the agent's wiring (telemetry.ts): what the GPU sampler and the carbon monitor produce, in
 * the shapes the history store and the metrics take. It lives in server/, which sees both gpu/ and
 * store/, so that those two stay peers that never import each other (docs/ARCHITECTURE.md).
 */
import type { CarbonStatus, ForecastPoint } from '../protocol/messages';
import type { GpuSample } from '../gpu/sampler';
import type { MetricsGpu, MetricsUpdate } from './metrics';
import type { GpuSampleRecord, IntensityRecord } from '../store/types';

/** GpuSampler samples → history rows (its energy meter is monotone per GPU, like a counter). */
export function sampleRecords(samples: readonly GpuSample[]): GpuSampleRecord[] {
  return samples.map((s) => ({ timestampMs: s.timestampMs, gpuUuid: s.uuid, powerMw: s.powerMw, powerLimitMw: s.powerLimitMw, energyMj: s.energyMj }));
}

/** GpuSampler samples → the gpus part of a metrics update, with each GPU's model name when known. */
export function metricsGpus(samples: readonly GpuSample[], devices: readonly { uuid: string; name: string }[] = []): MetricsGpu[] {
  const names = new Map(devices.map((d) => [d.uuid, d.name]));
  return samples.map((s) => {
    const name = names.get(s.uuid);
    return { uuid: s.uuid, index: s.index, ...(name ? { name } : {}), powerMw: s.powerMw, powerLimitMw: s.powerLimitMw, energyMj: s.energyMj };
  });
}

/** An `ok` carbon status → one actual reading (null for an error status). Source = provider kind. */
export function intensityRecord(status: CarbonStatus): IntensityRecord | null {
  if (status.state !== 'ok') return null;
  return { zone: status.source.zone, source: status.source.kind, timestampMs: status.timestampMs, intensityGPerKwh: status.intensityGPerKwh };
}

/** A forecast → rows with their vintage (when it was made), under the forecaster's name as source. */
export function forecastRecords(zone: string, model: string, madeAtMs: number, points: readonly ForecastPoint[]): IntensityRecord[] {
  return points.map((p) => {
    const r: IntensityRecord = { zone, source: model, timestampMs: p.timestampMs, intensityGPerKwh: p.intensityGPerKwh, forecastVintageMs: madeAtMs };
    if (p.lowGPerKwh !== undefined) r.lowGPerKwh = p.lowGPerKwh;
    if (p.highGPerKwh !== undefined) r.highGPerKwh = p.highGPerKwh;
    return r;
  });
}

/** An `ok` carbon status → the intensity part of a metrics update. */
export function metricsIntensity(status: CarbonStatus): MetricsUpdate['intensity'] {
  return status.state === 'ok' ? { zone: status.source.zone, source: status.source.kind, intensityGPerKwh: status.intensityGPerKwh } : undefined;
}
