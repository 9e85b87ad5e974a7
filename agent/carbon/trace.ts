/**
 * Carbon-intensity traces: parsing CSV files into an evenly spaced series.
 *
 * Accepted formats (detected from the header):
 *  - Electricity Maps data portal: `Datetime (UTC),…,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),…`
 *    (`emission` picks the direct or the life-cycle column);
 *  - generic: `timestamp,intensity` with ISO-8601 timestamps or epoch seconds / milliseconds;
 *  - any CSV with named columns: pass `timeColumn` / `valueColumn`.
 *
 * The result is sorted and evenly spaced: the step is the most common gap, and a missing period is
 * filled with the previous value (counted in `filledPoints`) so that period arithmetic everywhere
 * else stays simple. Two rows for one period are an error (naming both lines), not silently merged.
 *
 * Bounds (each refused with a message naming it): the file is a regular file of at most
 * {@link MAX_TRACE_BYTES}; values are decimal numbers from 0 to MAX_INTENSITY_G_PER_KWH and not all
 * 0; the step is at least {@link MIN_STEP_MS}; the rows span at most {@link MAX_POINTS} periods.
 */
import { basename } from 'node:path';
import { readInputFile } from '../files';
import { parseDecimal } from '../decimal';
import { MAX_INTENSITY_G_PER_KWH } from '../protocol/units';
import { csvRecords } from '../csv';

export interface Trace {
  /** Where it came from (file name), for labels. */
  name: string;
  /** Zone id if the file names one (Electricity Maps format), else undefined. */
  zone?: string;
  /** Period start times, epoch ms UTC, strictly increasing by `stepMs`. */
  timestampsMs: Float64Array;
  intensitiesGPerKwh: Float64Array;
  stepMs: number;
  /** How many periods were missing in the file and filled with the previous value. */
  filledPoints: number;
}

export class TraceError extends Error {
  constructor(message: string, readonly file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'TraceError';
  }
}

export interface TraceParseOptions {
  /** For Electricity Maps files: direct (operational) or life-cycle emission factors. */
  emission?: 'direct' | 'lifecycle';
  timeColumn?: string;
  valueColumn?: string;
}

const EM_TIME = 'Datetime (UTC)';
const EM_DIRECT = /carbon intensity.*\(direct\)/i;
const EM_LCA = /carbon intensity.*\(lca\)/i;
const GENERIC_TIME = ['timestamp', 'time', 'datetime', 'date', 'period_start', 'start'];
const GENERIC_VALUE = ['intensity', 'carbon_intensity', 'intensity_g_per_kwh', 'value', 'gco2_per_kwh'];

/** Ten years of 5-minute periods: more means a mistyped time, not a trace. */
export const MAX_POINTS = 1_051_200;
/** Largest trace file read: a few years of 5-minute Electricity Maps rows (a year of hourly ones is ~1.3 MB). */
export const MAX_TRACE_BYTES = 64 * 1024 * 1024;
/** Shortest period: grids and their APIs report every 5 to 60 minutes; a 1-ms step is a typo that would make every hour 3.6 million periods. */
export const MIN_STEP_MS = 60_000;

export function loadTrace(file: string, options: TraceParseOptions = {}): Trace {
  const text = readInputFile(file, MAX_TRACE_BYTES, 'trace', (message) => new TraceError(message));
  return parseTrace(text, basename(file), options);
}

export function parseTrace(text: string, name: string, options: TraceParseOptions = {}): Trace {
  const records = csvRecords(text); // blank lines skipped; each record keeps its line number for messages
  const first = records.next();
  if (first.done) throw new TraceError('a trace needs a header and at least two rows', name);
  const header = first.value.cells.map((h) => h.trim());
  const { timeIdx, valueIdx, zoneIdx } = pickColumns(header, options, name);

  const rows: Row[] = [];
  let dataRecords = 0;
  let zone: string | undefined;
  for (const { cells, lineNo } of records) {
    dataRecords++;
    const rawValue = cells[valueIdx]?.trim() ?? '';
    if (rawValue === '') continue; // a gap: filled below
    const t = parseTime(cells[timeIdx]?.trim() ?? '');
    const v = parseDecimal(rawValue);
    if (!Number.isFinite(t)) throw new TraceError(`line ${lineNo}: cannot read time "${cells[timeIdx] ?? ''}"`, name);
    if (v === undefined || v < 0 || v > MAX_INTENSITY_G_PER_KWH) {
      throw new TraceError(`line ${lineNo}: intensity "${rawValue}" is not a decimal number of gCO₂/kWh from 0 to ${MAX_INTENSITY_G_PER_KWH}`, name);
    }
    if (zoneIdx >= 0 && zone === undefined) zone = cells[zoneIdx]?.trim() || undefined;
    rows.push({ t, v, lineNo });
  }
  if (dataRecords < 2) throw new TraceError('a trace needs a header and at least two rows', name);
  if (rows.length < 2) throw new TraceError('fewer than two rows with a value', name);
  if (rows.every((r) => r.v === 0)) throw new TraceError('every intensity is 0 g/kWh: that is not a grid\'s carbon trace (check the value column)', name);
  rows.sort((a, b) => a.t - b.t || a.lineNo - b.lineNo);
  return regularize(rows, name, zone);
}

interface Row {
  t: number;
  v: number;
  lineNo: number;
}

function pickColumns(header: string[], options: TraceParseOptions, name: string) {
  const lower = header.map((h) => h.toLowerCase());
  const firstOf = (names: string[]) => lower.findIndex((h) => names.includes(h));
  let timeIdx: number;
  let valueIdx: number;
  if (options.timeColumn || options.valueColumn) {
    const named = (col: string) => {
      const exact = header.indexOf(col);
      return exact >= 0 ? exact : lower.indexOf(col.toLowerCase());
    };
    timeIdx = options.timeColumn ? named(options.timeColumn) : firstOf(GENERIC_TIME);
    valueIdx = options.valueColumn ? named(options.valueColumn) : firstOf(GENERIC_VALUE);
    for (const [col, idx] of [[options.timeColumn, timeIdx], [options.valueColumn, valueIdx]] as const) {
      if (col && idx < 0) throw new TraceError(`line 1: no column named "${col}" (columns: ${header.join(', ')})`, name);
    }
  } else if (header.includes(EM_TIME)) {
    timeIdx = header.indexOf(EM_TIME);
    const valuePattern = options.emission === 'lifecycle' ? EM_LCA : EM_DIRECT;
    valueIdx = header.findIndex((h) => valuePattern.test(h));
  } else {
    timeIdx = firstOf(GENERIC_TIME);
    valueIdx = firstOf(GENERIC_VALUE);
  }
  if (timeIdx < 0 || valueIdx < 0) {
    throw new TraceError(
      `unrecognised columns [${header.join(', ')}]: expected an Electricity Maps export, a "timestamp,intensity" CSV, or name the time and value columns`,
      name,
    );
  }
  return { timeIdx, valueIdx, zoneIdx: header.indexOf('Zone Id') };
}

/** ISO-8601 (a space instead of `T` and a missing zone mean UTC), or epoch seconds / ms. */
export function parseTime(raw: string): number {
  if (/^\d+(\.\d+)?$/.test(raw)) {
    const n = Number(raw);
    return n < 1e11 ? n * 1000 : n; // 1e11 s is year 5138; 1e11 ms is 1973
  }
  let iso = raw.replace(' ', 'T');
  if (/^\d{4}-\d\d-\d\d$/.test(iso)) iso += 'T00:00';
  if (/[+-]\d\d$/.test(iso) && iso.includes('T')) iso += ':00'; // "+01" → "+01:00"
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(iso)) iso += 'Z';
  return Date.parse(iso);
}

function regularize(rows: Row[], name: string, zone: string | undefined): Trace {
  const gaps = new Map<number, number>();
  for (let i = 1; i < rows.length; i++) {
    const g = rows[i].t - rows[i - 1].t;
    if (g === 0) throw new TraceError(`line ${rows[i].lineNo}: time repeats line ${rows[i - 1].lineNo} (each period once; remove one of them)`, name);
    gaps.set(g, (gaps.get(g) ?? 0) + 1);
  }
  let stepMs = 0;
  let best = -1;
  for (const [g, n] of gaps) {
    if (n > best || (n === best && g < stepMs)) {
      stepMs = g;
      best = n;
    }
  }
  if (stepMs < MIN_STEP_MS) {
    throw new TraceError(`the rows are ${stepMs} ms apart; periods of at least ${MIN_STEP_MS / 60_000} minute are replayed (check the time column's unit)`, name);
  }

  const start = rows[0].t;
  // Rows off the grid are snapped to the nearest period, so the last one may round up.
  const count = Math.round((rows[rows.length - 1].t - start) / stepMs) + 1;
  if (count > MAX_POINTS) {
    throw new TraceError(`the rows span ${count} periods of ${stepMs / 60_000} min (more than ${MAX_POINTS}); check the times for a typo`, name);
  }
  const ts = new Float64Array(count);
  const vs = new Float64Array(count);
  const lineOf = new Float64Array(count); // the line that filled each period (0: none)
  for (const { t, v, lineNo } of rows) {
    const k = Math.round((t - start) / stepMs);
    if (lineOf[k]) throw new TraceError(`line ${lineNo}: falls in the same ${stepMs / 60_000}-minute period as line ${lineOf[k]} (each period once; remove one of them)`, name);
    vs[k] = v;
    lineOf[k] = lineNo;
  }
  let filled = 0;
  for (let k = 0; k < count; k++) {
    ts[k] = start + k * stepMs;
    if (!lineOf[k]) {
      vs[k] = vs[k - 1]; // k = 0 always has a value: it is the first row
      filled++;
    }
  }
  return { name, zone, timestampsMs: ts, intensitiesGPerKwh: vs, stepMs, filledPoints: filled };
}
