/**
 * Measured power-limit profiles (Zeus NSDI '23 power trace, Apache-2.0; see profiles/NOTICE.md):
 * for one GPU model and workload, the average power drawn and the time per epoch at each power
 * limit. Simulated GPUs follow them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths';

export interface ProfilePoint {
  limitMw: number;
  /** Average power drawn at this limit. */
  powerMw: number;
  /** Time per epoch at this limit. */
  epochMs: number;
}

export interface PowerProfile {
  gpu: string;
  workload: string;
  /** Sorted by limit, ascending. */
  points: ProfilePoint[];
  source: string;
}

export const profilesDir = join(packageRoot, 'agent', 'gpu', 'profiles');
export const DEFAULT_PROFILE = { gpu: 'A40', dataset: 'imagenet', network: 'resnet50', batchSize: 128 } as const;

/** Parses a Zeus `summary_power_<gpu>.csv` and picks one workload. */
export function parseZeusPowerCsv(csv: string, gpu: string, dataset: string, network: string, batchSize: number, source = 'Zeus NSDI\'23 power trace'): PowerProfile {
  const lines = csv.trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`profile CSV has no "${name}" column (got ${header.join(',')})`);
    return i;
  };
  const [cDataset, cNetwork, cBatch, cLimit, cTime, cPower] = ['dataset', 'network', 'batch_size', 'power_limit', 'time_per_epoch', 'average_power'].map(col);
  const points: ProfilePoint[] = [];
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[cDataset] !== dataset || f[cNetwork] !== network || Number(f[cBatch]) !== batchSize) continue;
    points.push({ limitMw: Math.round(Number(f[cLimit]) * 1000), powerMw: Math.round(Number(f[cPower]) * 1000), epochMs: Math.round(Number(f[cTime]) * 1000) });
  }
  if (points.length < 2) throw new Error(`profile has fewer than 2 points for ${dataset}/${network} batch ${batchSize}`);
  points.sort((a, b) => a.limitMw - b.limitMw);
  return { gpu, workload: `${dataset}/${network} batch ${batchSize}`, points, source };
}

/** The default simulated workload: A40, ImageNet/ResNet-50, batch 128 (Chase paper's setting). */
export function loadDefaultProfile(dir = profilesDir): PowerProfile {
  const file = join(dir, 'summary_power_a40.csv');
  if (!existsSync(file)) throw new Error(`GPU profile ${file} is missing: reinstall the extension (it ships with agent/gpu/profiles/).`);
  const { gpu, dataset, network, batchSize } = DEFAULT_PROFILE;
  return parseZeusPowerCsv(readFileSync(file, 'utf8'), gpu, dataset, network, batchSize);
}

/** Linear interpolation of the profile at `limitMw` (clamped to its range). */
export function profileAt(profile: PowerProfile, limitMw: number): { powerMw: number; epochMs: number } {
  const p = profile.points;
  if (limitMw <= p[0].limitMw) return { powerMw: p[0].powerMw, epochMs: p[0].epochMs };
  const last = p[p.length - 1];
  if (limitMw >= last.limitMw) return { powerMw: last.powerMw, epochMs: last.epochMs };
  let i = 1;
  while (p[i].limitMw < limitMw) i++;
  const a = p[i - 1];
  const b = p[i];
  const t = (limitMw - a.limitMw) / (b.limitMw - a.limitMw);
  return { powerMw: a.powerMw + t * (b.powerMw - a.powerMw), epochMs: a.epochMs + t * (b.epochMs - a.epochMs) };
}
