/**
 * Zeus power traces (NSDI '23, Apache-2.0; agent/gpu/profiles/NOTICE.md): the one reader of a
 * `summary_power_<gpu>.csv`, for the simulated GPUs' default profile and for `chase-agent simulate`.
 *
 * Columns (ml-energy/zeus, examples/research_reproducibility/zeus_nsdi23/trace/README.md):
 * dataset,network,batch_size,optimizer,power_limit [W],time_per_epoch [s],average_power [W].
 * One workload is (network, batch size); when several (dataset, optimizer) pairs match, the first in
 * alphabetical order is taken and `note` says which and what else matched (V100's ShuffleNet-v2 has
 * both adadelta and adam rows). Repeated rows for one limit are averaged.
 */
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { csvRecords } from '../csv';
import { parseDecimal } from '../decimal';
import { readInputFile } from '../files';
import { packageRoot } from '../paths';
import { buildProfile, ProfileError, type BuildOptions, type PowerProfile } from './profile';

/** Largest profile file read (Zeus's summary_power_*.csv files are about 30 KB). */
const MAX_PROFILE_BYTES = 16 * 1024 * 1024;

/** The profiles shipped with the agent. */
export const profilesDir = join(packageRoot, 'agent', 'gpu', 'profiles');

/** The simulated GPUs' workload: A40, ImageNet / ResNet-50, batch 128 (the Chase paper's setting). */
export const DEFAULT_PROFILE = { file: 'summary_power_a40.csv', dataset: 'imagenet', workload: 'resnet50', batch: 128 } as const;

export interface ZeusSelection {
  /** Network column, e.g. resnet50. */
  workload: string;
  batch: number;
  /** Optional filters when several datasets / optimizers match. */
  dataset?: string;
  optimizer?: string;
}

const COLUMNS = ['dataset', 'network', 'batch_size', 'optimizer', 'power_limit', 'time_per_epoch', 'average_power'] as const;

/** The GPU model a Zeus file is named after: summary_power_a40.csv → A40. */
export function zeusGpuModel(fileName: string): string | undefined {
  return /summary_power_([A-Za-z0-9]+)\.csv$/.exec(fileName)?.[1].toUpperCase();
}

/** Reads the Zeus CSV `file` and selects one workload (see the module comment). */
export function loadZeusProfile(file: string, sel: ZeusSelection, options: BuildOptions = {}): PowerProfile & { note?: string } {
  const text = readInputFile(file, MAX_PROFILE_BYTES, 'profile', (message) => new ProfileError(message));
  return parseZeusProfile(text, basename(file), sel, options);
}

/** Parses a Zeus CSV's text; `name` (the file name) labels the profile and names its GPU model. */
export function parseZeusProfile(text: string, name: string, sel: ZeusSelection, options: BuildOptions = {}): PowerProfile & { note?: string } {
  const records = csvRecords(text);
  const first = records.next();
  const header = first.done ? [] : first.value.cells.map((h) => h.trim());
  const [iDs, iNet, iBatch, iOpt, iLim, iTime, iPow] = COLUMNS.map((n) => {
    const i = header.indexOf(n);
    if (i < 0) throw new ProfileError(`${name}: no "${n}" column; expected a Zeus summary_power CSV (${COLUMNS.join(',')})`);
    return i;
  });
  const groups = new Map<string, Map<number, { t: number; p: number; n: number }>>();
  const seen = new Set<string>();
  for (const { cells, lineNo } of records) {
    const c = cells.map((s) => s.trim());
    seen.add(`${c[iNet]}@${c[iBatch]}`);
    if (c[iNet] !== sel.workload || Number(c[iBatch]) !== sel.batch) continue;
    if (sel.dataset && c[iDs] !== sel.dataset) continue;
    if (sel.optimizer && c[iOpt] !== sel.optimizer) continue;
    const key = `${c[iDs]}/${c[iOpt]}`;
    const [lim, t, p] = [c[iLim], c[iTime], c[iPow]].map((x) => parseDecimal(x ?? ''));
    if (lim === undefined || t === undefined || p === undefined) throw new ProfileError(`${name}: line ${lineNo}: power_limit, time_per_epoch and average_power must be decimal numbers`);
    const g = groups.get(key) ?? new Map<number, { t: number; p: number; n: number }>();
    const prev = g.get(lim) ?? { t: 0, p: 0, n: 0 };
    g.set(lim, { t: prev.t + t, p: prev.p + p, n: prev.n + 1 }); // repeated rows: averaged
    groups.set(key, g);
  }
  if (groups.size === 0) {
    const avail = [...seen].filter((s) => s.startsWith(`${sel.workload}@`)).map((s) => s.split('@')[1]);
    const hint = avail.length > 0 ? `batch sizes for ${sel.workload}: ${avail.join(', ')}` : `workloads: ${[...new Set([...seen].map((s) => s.split('@')[0]))].join(', ')}`;
    throw new ProfileError(`${name}: no rows for --workload ${sel.workload} --batch ${sel.batch}${sel.dataset ? ` --dataset ${sel.dataset}` : ''}${sel.optimizer ? ` --optimizer ${sel.optimizer}` : ''} (${hint})`);
  }
  const keys = [...groups.keys()].sort();
  const chosen = keys[0];
  const rows = groups.get(chosen) ?? new Map<number, { t: number; p: number; n: number }>();
  const points = [...rows.entries()].map(([limW, r]) => ({
    powerLimitMw: limW * 1000,
    avgPowerMw: (r.p / r.n) * 1000,
    unitsPerS: 1 / (r.t / r.n),
  }));
  const gpu = zeusGpuModel(name);
  const profile = buildProfile(`${name} ${sel.workload} b${sel.batch} ${chosen}`, 'epoch', points, { ...options, ...(gpu !== undefined ? { gpu } : {}) });
  return keys.length > 1 ? { ...profile, note: `${keys.length} dataset/optimizer pairs match (${keys.join(', ')}); using ${chosen} (first alphabetically; pass --dataset/--optimizer to choose)` } : profile;
}

/** The simulated GPUs' profile (DEFAULT_PROFILE), from the CSV shipped in agent/gpu/profiles/. */
export function loadDefaultProfile(dir = profilesDir): PowerProfile {
  const file = join(dir, DEFAULT_PROFILE.file);
  if (!existsSync(file)) throw new ProfileError(`GPU profile ${file} is missing: reinstall the extension (it ships with agent/gpu/profiles/).`);
  return loadZeusProfile(file, DEFAULT_PROFILE);
}
