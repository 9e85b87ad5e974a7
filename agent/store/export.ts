/**
 * Run exports: CodeCarbon's `emissions.csv` (CodeCarbon 3.2.x's columns in its order, its units, its
 * timestamp and its append rule, so CodeCarbon, its dashboards and pandas scripts share one file
 * with Chase), and JSON.
 *
 * CodeCarbon units: duration s, emissions kg CO₂eq, emissions_rate kg/s, *_power W, *_energy and
 * energy_consumed kWh, ram_total_size GB, water_consumed L, timestamp local time `%Y-%m-%dT%H:%M:%S`.
 * Chase measures GPUs only: cpu_* and ram_* are 0 (like CodeCarbon with those trackers off).
 *
 * The peer: mlco2/codecarbon v3.2.9 (test/unit/store/fixtures/codecarbon-v3.2.9 holds files its own
 * `FileOutput` wrote, alone and around Chase's files; the export tests compare Chase with them).
 */
import { cpus, platform, release, totalmem } from 'node:os';
import { existsSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { appendToRegularFile, FileRefusedError, writeFileSafely } from '../files';
import { ExportError } from '../errors';
import { gramsToKg, joulesToKwh } from '../protocol/accounting';
import { HistoryReader } from './history';
import type { DecisionRecord, IntensityRecord, RunRecord, StoredGpuSample } from './types';
import { HOUR_MS } from '../protocol/units';
import { csvField, splitCsvLine } from '../csv';

/** The CodeCarbon release whose CSV Chase writes (docs/accounting.md). */
export const CODECARBON_RELEASE = '3.2.9';

/**
 * CodeCarbon 3.2.x's emissions.csv columns, in its order: the fields of its `EmissionsData` dataclass
 * (mlco2/codecarbon v3.2.9, codecarbon/output_methods/emissions_data.py lines 12–49, unchanged since
 * 3.2.1), which `FileOutput` writes through pandas in declaration order — defaulted fields last.
 */
export const CODECARBON_COLUMNS = [
  'timestamp', 'project_name', 'run_id', 'experiment_id', 'duration', 'emissions', 'emissions_rate',
  'cpu_power', 'gpu_power', 'ram_power', 'cpu_energy', 'gpu_energy', 'ram_energy', 'energy_consumed', 'water_consumed',
  'country_name', 'country_iso_code', 'region', 'cloud_provider', 'cloud_region', 'os', 'python_version', 'codecarbon_version',
  'cpu_count', 'cpu_model', 'gpu_count', 'gpu_model', 'longitude', 'latitude', 'ram_total_size', 'tracking_mode',
  'cpu_utilization_percent', 'gpu_utilization_percent', 'ram_utilization_percent', 'ram_used_gb', 'on_cloud', 'pue', 'wue',
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

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** CodeCarbon's timestamp: `datetime.now().strftime("%Y-%m-%dT%H:%M:%S")` (emissions_tracker.py), local time without an offset. */
export function codeCarbonTimestamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/**
 * CodeCarbon's gpu_model: `"{count} x {name}"` per distinct model (resource_tracker.py). CodeCarbon
 * joins several models with nothing between them; Chase puts ", " there, so the names stay readable.
 */
function gpuModel(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${n} x ${name}`).join(', ');
}

/** One CodeCarbon row for a run (CodeCarbon writes one row per tracker stop). */
export function codeCarbonRow(run: RunRecord, o: CodeCarbonOptions = {}): CodeCarbonRow {
  const host = o.host ?? currentHost();
  const endMs = run.endMs ?? o.nowMs ?? Date.now();
  const durationS = Math.max(0, (endMs - run.startMs) / 1000);
  const emissionsKg = gramsToKg(run.carbonG);
  const energyKwh = joulesToKwh(run.energyJ);
  const names = run.gpuUuids.map((u) => o.gpuNames?.get(u)).filter((n): n is string => !!n);
  return {
    timestamp: codeCarbonTimestamp(endMs),
    project_name: o.projectName ?? (typeof run.meta?.project === 'string' ? run.meta.project : 'chase'),
    run_id: run.id,
    experiment_id: o.experimentId ?? '',
    duration: durationS,
    emissions: emissionsKg,
    emissions_rate: durationS > 0 ? emissionsKg / durationS : 0,
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
    gpu_model: gpuModel(names),
    longitude: '',
    latitude: '',
    ram_total_size: host.ramTotalGb,
    tracking_mode: 'machine',
    cpu_utilization_percent: 0,
    // Chase samples power, not utilisation: 0, CodeCarbon's value when it has no reading
    gpu_utilization_percent: 0,
    ram_utilization_percent: 0,
    ram_used_gb: 0,
    on_cloud: 'N',
    pue: 1,
    wue: 0,
  };
}

export const codeCarbonHeader = (): string => CODECARBON_COLUMNS.join(',');

const csvLine = (row: CodeCarbonRow, columns: readonly CodeCarbonColumn[]): string => columns.map((c) => csvField(row[c])).join(',');

export function codeCarbonCsv(rows: readonly CodeCarbonRow[]): string {
  return [codeCarbonHeader(), ...rows.map((r) => csvLine(r, CODECARBON_COLUMNS))].join('\n') + '\n';
}

/** What writing an emissions.csv did; `backupFile` when a file with other columns was moved aside first. */
export interface CodeCarbonWrite {
  written: 'created' | 'appended';
  backupFile?: string;
}

/** CodeCarbon's `backup()` name: FILE.bak, else FILE_0.bak, FILE_1.bak, … (codecarbon/core/util.py). */
export function codeCarbonBackupPath(file: string): string {
  const dir = dirname(file);
  const name = basename(file);
  let candidate = join(dir, `${name}.bak`);
  for (let i = 0; existsSync(candidate); i++) candidate = join(dir, `${name}_${i}.bak`);
  return candidate;
}

/**
 * Writes rows to an emissions.csv by CodeCarbon's own rule (FileOutput.out, v3.2.9 file.py 72–106):
 * - no file, or an empty one: create it with the header;
 * - a header with the same column names (compared sorted, as CodeCarbon does): append;
 * - other columns: rename the file to CodeCarbon's backup name (`emissions.csv.bak`, …) and start a
 *   new one, so neither tool's rows are lost and the next CodeCarbon run appends to the new file.
 * Appended lines follow the file's own column order (CodeCarbon writes its order regardless).
 * Never through a symbolic link, never to a device or pipe (files.ts).
 */
export function writeCodeCarbonFile(file: string, rows: readonly CodeCarbonRow[]): CodeCarbonWrite {
  return exportFile(() => {
    const r = appendToRegularFile(file, (existing) => {
      if (existing.size === 0) return undefined;
      const header = splitCsvLine(existing.firstLine);
      if ([...header].sort().join(',') !== [...CODECARBON_COLUMNS].sort().join(',')) return undefined;
      const columns = header as CodeCarbonColumn[];
      return (existing.endsWithNewline ? '' : '\n') + rows.map((row) => csvLine(row, columns) + '\n').join('');
    });
    if (r.appended) return { written: 'appended' };
    let backupFile: string | undefined;
    if (r.existing && r.existing.size > 0) {
      backupFile = codeCarbonBackupPath(file);
      renameSync(file, backupFile);
    }
    // an empty file is replaced; a moved-aside one is gone; otherwise nothing is there
    writeFileSafely(file, codeCarbonCsv(rows), { overwrite: r.existing?.size === 0, overwriteHint: 'try again' });
    return { written: 'created', ...(backupFile ? { backupFile } : {}) };
  });
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
export function writeRunExport(reader: HistoryReader, o: RunExportTarget): CodeCarbonWrite {
  if (o.format === 'codecarbon') return writeCodeCarbonFile(o.outFile, [exportRunCodeCarbon(reader, o.runId)]);
  writeJsonExport(o.outFile, exportRunJson(reader, o.runId), o);
  return { written: 'created' };
}

/** A JSON export, written safely: no overwriting unless asked, never through a link. */
export function writeJsonExport(outFile: string, data: RunExport, o: { overwrite?: boolean; overwriteHint?: string }): void {
  exportFile(() => writeFileSafely(outFile, JSON.stringify(data, null, 2) + '\n', { overwrite: o.overwrite ?? false, overwriteHint: o.overwriteHint ?? 'confirm replacing it (overwrite: true)' }));
}

/** The same from a database file: opens the history read-only, writes the export, closes. */
export function exportRunToFile(o: RunExportTarget & { dbPath: string }): CodeCarbonWrite {
  const reader = HistoryReader.open({ path: o.dbPath });
  try {
    return writeRunExport(reader, o);
  } finally {
    reader.close();
  }
}
