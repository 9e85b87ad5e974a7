/**
 * Profiles measured online, kept per (GPU model, workload key) so a later run of the same workload
 * on the same kind of GPU skips profiling. Stored in the history database's `profiles` table, one
 * row per limit: time and energy per unit of work (ProfileRecord's epochMs / energyJ).
 *
 * Workload key: `--workload KEY` (CLI) / `StartRunParams.workload`, else the command's script name
 * and a short hash of the whole command line (`train.py#1a2b3c4d`).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { profileFromMeasurements, type LimitMeasurement, type PowerProfile } from '../profile/profile';
import type { HistoryStore } from '../store/history';
import type { ProfileRecord } from '../store/types';

export interface ProfileStore {
  load(gpuModel: string, key: string): PowerProfile | undefined;
  save(gpuModel: string, key: string, measurements: readonly LimitMeasurement[]): void;
}

/** The script the command runs (first argument that looks like a file, else the program) + args hash. */
export function workloadKeyOf(file: string, args: readonly string[]): string {
  const script = args.find((a) => !a.startsWith('-') && /\.[A-Za-z0-9]+$/.test(a)) ?? file;
  const hash = createHash('sha256').update(JSON.stringify([basename(file), ...args])).digest('hex').slice(0, 8);
  return `${basename(script)}#${hash}`;
}

/** Pools the windows per limit into per-unit time and energy rows. */
export function profileRecords(gpuModel: string, key: string, measurements: readonly LimitMeasurement[], nowMs: number): ProfileRecord[] {
  const byLimit = new Map<number, { ms: number; j: number; u: number }>();
  for (const m of measurements) {
    if (!(m.units > 0 && m.elapsedMs > 0)) continue;
    const s = byLimit.get(m.powerLimitMw) ?? { ms: 0, j: 0, u: 0 };
    byLimit.set(m.powerLimitMw, { ms: s.ms + m.elapsedMs, j: s.j + m.energyJ, u: s.u + m.units });
  }
  return [...byLimit.entries()].map(([powerLimitMw, s]) => ({ gpuModel, workloadKey: key, powerLimitMw, epochMs: s.ms / s.u, energyJ: s.j / s.u, updatedMs: nowMs }));
}

/** The profile of stored rows (one unit of work per row), or undefined when there are none. */
export function profileOfRecords(name: string, rows: readonly ProfileRecord[]): PowerProfile | undefined {
  const ok = rows.filter((r) => r.epochMs > 0 && r.energyJ > 0);
  if (ok.length === 0) return undefined;
  return profileFromMeasurements(name, 'steps', ok.map((r) => ({ powerLimitMw: r.powerLimitMw, elapsedMs: r.epochMs, energyJ: r.energyJ, units: 1 })));
}

/** A ProfileStore over the history database. A re-profiled workload replaces its old rows. */
export function historyProfileStore(store: HistoryStore, now: () => number = Date.now): ProfileStore {
  return {
    load(gpuModel, key) {
      return profileOfRecords(`${key} on ${gpuModel} (stored)`, store.profiles({ gpuModel, workloadKey: key }));
    },
    save(gpuModel, key, measurements) {
      const rows = profileRecords(gpuModel, key, measurements, now());
      if (rows.length === 0) return;
      // Rows of limits not measured this time would mix two profiles: make them useless (no energy).
      const stale = store.profiles({ gpuModel, workloadKey: key }).filter((r) => !rows.some((n) => n.powerLimitMw === r.powerLimitMw));
      store.saveProfile([...rows, ...stale.map((r) => ({ ...r, epochMs: 0, energyJ: 0, updatedMs: now() }))]);
    },
  };
}

/** A ProfileStore in memory (tests, and runs without a history database). */
export class MemoryProfileStore implements ProfileStore {
  readonly saved = new Map<string, LimitMeasurement[]>();
  load(gpuModel: string, key: string): PowerProfile | undefined {
    const m = this.saved.get(`${gpuModel}\u0000${key}`);
    return m && m.length > 0 ? profileFromMeasurements(`${key} on ${gpuModel} (stored)`, 'steps', m) : undefined;
  }
  save(gpuModel: string, key: string, measurements: readonly LimitMeasurement[]): void {
    this.saved.set(`${gpuModel}\u0000${key}`, [...measurements]);
  }
}

/** Re-profile on drift: measured throughput this far off the profile's, for this many periods in a row. */
export const DRIFT_THRESHOLD_PCT = 25;
export const DRIFT_PERIODS = 3;

/** |measured − expected| / expected > threshold (a stalled job, measured 0, drifts). */
export function throughputDrifted(expectedUnitsPerS: number, measuredUnitsPerS: number, thresholdPct = DRIFT_THRESHOLD_PCT): boolean {
  if (!(expectedUnitsPerS > 0)) return false;
  return (Math.abs(measuredUnitsPerS - expectedUnitsPerS) / expectedUnitsPerS) * 100 > thresholdPct;
}

/** Counts consecutive drifted periods; `observe` is true once `periods` in a row drifted (then resets). */
export class DriftDetector {
  private streak = 0;
  constructor(
    private readonly thresholdPct = DRIFT_THRESHOLD_PCT,
    private readonly periods = DRIFT_PERIODS,
  ) {}

  get consecutive(): number {
    return this.streak;
  }

  observe(expectedUnitsPerS: number, measuredUnitsPerS: number): boolean {
    this.streak = throughputDrifted(expectedUnitsPerS, measuredUnitsPerS, this.thresholdPct) ? this.streak + 1 : 0;
    if (this.streak < this.periods) return false;
    this.streak = 0;
    return true;
  }

  reset(): void {
    this.streak = 0;
  }
}
