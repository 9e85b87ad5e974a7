/**
 * Run exports: CodeCarbon-compatible `emissions.csv` (same columns, order and units as CodeCarbon's
 * `EmissionsData`, so CodeCarbon dashboards and pandas scripts read it), and JSON.
 *
 * CodeCarbon units: duration s, emissions kg CO₂eq, emissions_rate kg/s, *_power W, *_energy and
 * energy_consumed kWh, ram_total_size GB, water_consumed L, timestamp `%Y-%m-%dT%H:%M:%S`.
 * Chase measures GPUs only: cpu_* and ram_* are 0 (like CodeCarbon with those trackers off).
 */
import { cpus, platform, release, totalmem } from 'node:os';
import { createOrAppend, FileRefusedError, writeFileSafely } from '../files';
import { ExportError } from '../errors';
import { gramsToKg, joulesToKwh } from './accounting';
import { HistoryReader } from './history';
import type { DecisionRecord, IntensityRecord, RunRecord, StoredGpuSample } from './types';
import { HOUR_MS } from '../protocol/units';

/** CodeCarbon's emissions.csv header, in its order (codecarbon/output_methods/emissions_data.py). */
export const CODECARBON_COLUMNS = [
  'timestamp', 'project_name', 'run_id', 'experiment_id', 'duration', 'emissions', 'emissions_rate',
  'cpu_utilization_percent', 'ram_utilization_percent', 'ram_used_gb',
  'cpu_power', 'gpu_power', 'ram_power', 'cpu_energy', 'gpu_energy', 'ram_energy', 'energy_consumed', 'water_consumed',
  'country_name', 'country_iso_code', 'region', 'cloud_provider', 'cloud_region', 'os', 'python_version', 'codecarbon_version',
  'cpu_count', 'cpu_model', 'gpu_count', 'gpu_model', 'longitude', 'latitude', 'ram_total_size', 'tracking_mode',
  'on_cloud', 'pue', 'wue',
] as const;

export type CodeCarbonColumn = (typeof CODECARBON_COLUMNS)[number];
export type CodeCarbonRow = Record<CodeCarbonColumn, string | number>;

export interface HostInfo {
  os: string;
  cpuCount: number;
  cpuModel: string;
  ramTotalGb: number;
}

export function currentHost(): HostInfo {
  const c = cpus();
  return { os: `${platform()}-${release()}`, cpuCount: c.length, cpuModel: c[0]?.model ?? '', ramTotalGb: totalmem() / 1024 ** 3 };
}

export interface CodeCarbonOptions {
  projectName?: string;
  experimentId?: string;
  /** GPU model names by UUID (from the gpus table). */
  gpuNames?: Map<string, string>;
  host?: HostInfo;
  /** For a run still going: "now". */
  nowMs?: number;
  countryName?: string;
  countryIsoCode?: string;
}

const isoSeconds = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

/** One CodeCarbon row for a run (CodeCarbon writes one row per tracker stop). */
export function codeCarbonRow(run: RunRecord, o: CodeCarbonOptions = {}): CodeCarbonRow {
  const host = o.host ?? currentHost();
  const endMs = run.endMs ?? o.nowMs ?? Date.now();
  const durationS = Math.max(0, (endMs - run.startMs) / 1000);
  const emissionsKg = gramsToKg(run.carbonG);
  const energyKwh = joulesToKwh(run.energyJ);
  const models = [...new Set(run.gpuUuids.map((u) => o.gpuNames?.get(u)).filter((n): n is string => !!n))];
  return {
    timestamp: isoSeconds(endMs),
    project_name: o.projectName ?? (typeof run.meta?.project === 'string' ? run.meta.project : 'chase'),
    run_id: run.id,
    experiment_id: o.experimentId ?? '',
    duration: durationS,
    emissions: emissionsKg,
    emissions_rate: durationS > 0 ? emissionsKg / durationS : 0,
    cpu_utilization_percent: 0,
    ram_utilization_percent: 0,
    ram_used_gb: 0,
    cpu_power: 0,
    gpu_power: durationS > 0 ? run.energyJ / durationS : 0,
    ram_power: 0,
    cpu_energy: 0,
    gpu_energy: energyKwh,
    ram_energy: 0,
    energy_consumed: energyKwh,
    water_consumed: 0,
    country_name: o.countryName ?? '',
    country_iso_code: o.countryIsoCode ?? '',
    region: run.zone ?? '',
    cloud_provider: '',
    cloud_region: '',
    os: host.os,
    python_version: '',
    codecarbon_version: '',
    cpu_count: host.cpuCount,
    cpu_model: host.cpuModel,
    gpu_count: run.gpuUuids.length,
    gpu_model: models.length === 0 ? '' : `${run.gpuUuids.length} x ${models.join(', ')}`,
    longitude: '',
    latitude: '',
    ram_total_size: host.ramTotalGb,
    tracking_mode: 'machine',
    on_cloud: 'N',
    pue: 1,
    wue: 0,
  };
}

/** RFC 4180 quoting (as Python's csv module writes: quote only when needed). */
export function csvField(v: string | number): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const codeCarbonHeader = (): string => CODECARBON_COLUMNS.join(',');

export function codeCarbonCsv(rows: readonly CodeCarbonRow[]): string {
  return [codeCarbonHeader(), ...rows.map((r) => CODECARBON_COLUMNS.map((c) => csvField(r[c])).join(','))].join('\n') + '\n';
}

/**
 * Writes rows to an emissions.csv like CodeCarbon does: creates it with the header, or appends to
 * an existing file with the same header. A file with another header is not touched (error). Never
 * through a symbolic link, never to a device or pipe (files.ts).
 */
export function writeCodeCarbonFile(file: string, rows: readonly CodeCarbonRow[]): 'created' | 'appended' {
  const csv = codeCarbonCsv(rows);
  return exportFile(() =>
    createOrAppend(file, csv, (firstLine) => {
      if (firstLine !== codeCarbonHeader()) throw new ExportError(`${file} exists with other columns than this CodeCarbon format; choose another --out file`);
      return csv.slice(csv.indexOf('\n') + 1);
    }),
  );
}

/** File problems (refused, or the system's: EACCES, ENOSPC…) as an ExportError: the export is what failed. */
function exportFile<T>(write: () => T): T {
  try {
    return write();
  } catch (e) {
    if (e instanceof FileRefusedError || (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string')) throw new ExportError(`export not written: ${e.message}`);
    throw e;
  }
}

export interface RunExport {
  format: 'chase-run';
  version: 1;
  run: RunRecord;
  /** Derived totals in the units reports use. */
  totals: { durationS: number; energyKwh: number; emissionsKg: number; baselineEmissionsKg?: number; savedKg?: number; savedPct?: number };
  gpus: { uuid: string; name?: string; index?: number }[];
  decisions: DecisionRecord[];
  intensity: IntensityRecord[];
  samples: StoredGpuSample[];
}

/** Everything known about a run, for `--format json` and the extension's "Export run". */
export function exportRunJson(reader: HistoryReader, runId: string, nowMs = Date.now()): RunExport {
  const run = reader.getRun(runId);
  if (!run) throw new Error(`no run with id "${runId}" (chase-agent runs list shows the ids)`);
  const endMs = run.endMs ?? nowMs;
  const totals: RunExport['totals'] = { durationS: (endMs - run.startMs) / 1000, energyKwh: joulesToKwh(run.energyJ), emissionsKg: gramsToKg(run.carbonG) };
  if (run.baselineCarbonG !== undefined) {
    totals.baselineEmissionsKg = gramsToKg(run.baselineCarbonG);
    totals.savedKg = gramsToKg(run.baselineCarbonG - run.carbonG);
    totals.savedPct = run.baselineCarbonG > 0 ? (100 * (run.baselineCarbonG - run.carbonG)) / run.baselineCarbonG : 0;
  }
  const gpus = reader.gpus().filter((g) => run.gpuUuids.includes(g.uuid));
  return {
    format: 'chase-run',
    version: 1,
    run,
    totals,
    gpus,
    decisions: reader.decisions({ runId }),
    intensity: reader.intensity({ fromMs: run.startMs - HOUR_MS, toMs: endMs + 1, zone: run.zone }),
    samples: reader.runSamples(runId, nowMs),
  };
}

/** CodeCarbon row for a stored run (GPU names from the database). */
export function exportRunCodeCarbon(reader: HistoryReader, runId: string, o: CodeCarbonOptions = {}): CodeCarbonRow {
  const run = reader.getRun(runId);
  if (!run) throw new Error(`no run with id "${runId}" (chase-agent runs list shows the ids)`);
  const gpuNames = new Map(reader.gpus().filter((g) => g.name).map((g) => [g.uuid, g.name as string]));
  return codeCarbonRow(run, { gpuNames, ...o });
}

export interface RunExportTarget {
  runId: string;
  format: 'codecarbon' | 'json';
  outFile: string;
  /** Replace an existing JSON file (the user said so); otherwise it is refused with `overwriteHint`. */
  overwrite?: boolean;
  overwriteHint?: string;
}

/** Writes one run's export from an open history (the agent's own store, or a reader). */
export function writeRunExport(reader: HistoryReader, o: RunExportTarget): 'created' | 'appended' {
  if (o.format === 'codecarbon') return writeCodeCarbonFile(o.outFile, [exportRunCodeCarbon(reader, o.runId)]);
  writeJsonExport(o.outFile, exportRunJson(reader, o.runId), o);
  return 'created';
}

/** A JSON export, written safely: no overwriting unless asked, never through a link. */
export function writeJsonExport(outFile: string, data: RunExport, o: { overwrite?: boolean; overwriteHint?: string }): void {
  exportFile(() => writeFileSafely(outFile, JSON.stringify(data, null, 2) + '\n', { overwrite: o.overwrite ?? false, overwriteHint: o.overwriteHint ?? 'confirm replacing it (overwrite: true)' }));
}

/** The same from a database file: opens the history read-only, writes the export, closes. */
export function exportRunToFile(o: RunExportTarget & { dbPath: string }): 'created' | 'appended' {
  const reader = HistoryReader.open({ path: o.dbPath });
  try {
    return writeRunExport(reader, o);
  } finally {
    reader.close();
  }
}
