/**
 * Trace replay: the embedded default carbon source. A recorded year of hourly intensity is played
 * back so that "now" falls on the same hour-of-year in the trace (1 March 14:00 this year reads the
 * trace's 1 March 14:00), optionally sped up for demos — or, with a start (`chase.carbon.replayStart`),
 * from a chosen hour of the trace, so that a demo replays the same days whatever today's date is.
 *
 * Clock: with speed s, the replay's virtual time is `origin + (wall − origin) · s`, where origin is
 * when the provider was created. Virtual time is then mapped onto the trace by its offset from the
 * start of its UTC year, wrapped around the trace's length. Timestamps reported to callers are in
 * virtual time, so a sped-up demo shows a consistent clock.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CarbonSourceInfo, ForecastPoint, IntensityPoint } from '../protocol/messages';
import { embeddedTracesDir } from '../paths';
import { CarbonSourceError, type CarbonProvider, type CarbonReading } from './provider';
import { loadTrace, TraceError, type Trace } from './trace';
import { HOUR_MS } from '../protocol/units';

const ODBL_ATTRIBUTION = 'Electricity Maps data portal, ODbL 1.0 (embedded trace)';

/**
 * Most periods one history or forecast call returns: a leap year of 5-minute periods. A longer range
 * is a mistake (e.g. a wall-clock interval multiplied by a large replay speed), not a question, and
 * answering it would build millions of points.
 */
export const MAX_REPLAY_POINTS = 366 * 288;

/** Zones with an embedded trace, from the file names `<ZONE>_<YEAR>_hourly.csv`. */
export function embeddedZones(dir = embeddedTracesDir): Array<{ zone: string; year: number; file: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^(.+)_(\d{4})_hourly\.csv$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ zone: m[1], year: Number(m[2]), file: join(dir, m[0]) }));
}

export interface ReplayOptions {
  zone: string;
  /** A CSV to replay instead of the embedded trace for `zone`. */
  traceFile?: string;
  speed: number;
  /** Wall-clock "now" when the replay starts (tests pin it). */
  originMs?: number;
  /**
   * Where in the trace the replay starts (epoch ms, e.g. 2023-09-21T15:00Z): its first period reads
   * that hour, and it plays on from there. Absent: "now" reads the same hour of year in the trace.
   */
  startMs?: number;
  /** For `traceFile`: the time and intensity column names, when not detected from the header. */
  timeColumn?: string;
  valueColumn?: string;
}

export class ReplayProvider implements CarbonProvider {
  readonly info: CarbonSourceInfo;
  readonly periodMs: number;
  private readonly originMs: number;
  /** Added to virtual time to find the trace's period (0 unless the replay starts at a chosen point). */
  private readonly traceShiftMs: number;

  private constructor(
    private readonly trace: Trace,
    readonly speed: number,
    originMs: number,
    info: CarbonSourceInfo,
    startMs: number | undefined,
  ) {
    this.info = info;
    this.periodMs = trace.stepMs;
    this.originMs = originMs;
    // the origin's own period reads the start's: a constant shift from the virtual clock to the trace's
    this.traceShiftMs = startMs === undefined ? 0 : startMs - this.periodStart(originMs);
  }

  static create(options: ReplayOptions): ReplayProvider {
    if (!(options.speed > 0) || !Number.isFinite(options.speed)) {
      throw new CarbonSourceError(`chase.carbon.replaySpeed must be a positive number (got ${options.speed})`, 'invalid-settings');
    }
    if (options.startMs !== undefined && !Number.isFinite(options.startMs)) {
      throw new CarbonSourceError(`chase.carbon.replayStart must be a UTC date and time such as "2023-09-21T15:00Z" (got ${options.startMs})`, 'invalid-settings');
    }
    let file = options.traceFile;
    let year: number | undefined;
    // The embedded files name their zone (e.g. "DE-LU"); their Zone Id column may be coarser ("DE").
    let embeddedZone: string | undefined;
    if (!file) {
      const zones = embeddedZones();
      const hit = zones.find((z) => z.zone.toLowerCase() === options.zone.toLowerCase());
      if (!hit) {
        throw new CarbonSourceError(
          `No embedded trace for zone "${options.zone}". Embedded zones: ${zones.map((z) => z.zone).join(', ')}. ` +
            'Set chase.carbon.zone to one of them, or chase.carbon.traceFile to your own CSV.',
          'unknown-zone',
        );
      }
      file = hit.file;
      year = hit.year;
      embeddedZone = hit.zone;
    }
    let trace: Trace;
    try {
      trace = loadTrace(file, { timeColumn: options.timeColumn, valueColumn: options.valueColumn });
    } catch (e) {
      const detail = e instanceof TraceError ? e.message : String(e);
      throw new CarbonSourceError(`Cannot replay the carbon trace: ${detail}. Check chase.carbon.traceFile.`, 'unavailable', e);
    }
    year ??= new Date(trace.timestampsMs[0]).getUTCFullYear();
    const zone = embeddedZone ?? trace.zone ?? options.zone;
    const label = options.traceFile ? `replay ${zone} (${trace.name})` : `replay ${zone} ${year}`;
    const info: CarbonSourceInfo = {
      kind: 'replay',
      label,
      zone,
      signal: 'average',
      attribution: options.traceFile ? `trace file ${trace.name}` : ODBL_ATTRIBUTION,
    };
    return new ReplayProvider(trace, options.speed, options.originMs ?? Date.now(), info, options.startMs);
  }

  /** Virtual time for a wall-clock time. */
  virtualNow(wallMs: number): number {
    return this.originMs + (wallMs - this.originMs) * this.speed;
  }

  /** Wall-clock time at which virtual time `virtualMs` is reached (inverse of {@link virtualNow}). */
  wallTimeOf(virtualMs: number): number {
    return this.originMs + (virtualMs - this.originMs) / this.speed;
  }

  /**
   * Index into the trace of the period containing virtual time `virtualMs`: the same calendar
   * date and time of day in the trace's year (29 February reads 28 February when the trace's year
   * has none; in a leap year 1 March still reads 1 March), shifted by the replay's start when it has
   * one. A trace that starts mid-year is matched in
   * the year after its start when that falls inside it; outside the trace, the index wraps around.
   */
  indexAt(virtualMs: number): number {
    return this.calendarIndex(virtualMs + this.traceShiftMs);
  }

  private calendarIndex(virtualMs: number): number {
    const ts = this.trace.timestampsMs;
    const n = ts.length;
    const first = ts[0];
    const last = ts[n - 1];
    const d = new Date(virtualMs);
    const msOfDay = virtualMs - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    const sameDateIn = (year: number) => {
      const leap = new Date(Date.UTC(year, 1, 29)).getUTCMonth() === 1;
      const day = d.getUTCMonth() === 1 && d.getUTCDate() === 29 && !leap ? 28 : d.getUTCDate();
      return Date.UTC(year, d.getUTCMonth(), day) + msOfDay;
    };
    const firstYear = new Date(first).getUTCFullYear();
    let t = sameDateIn(firstYear);
    if (t < first && sameDateIn(firstYear + 1) <= last + this.trace.stepMs) t = sameDateIn(firstYear + 1);
    const offsetSteps = Math.floor((t - first) / this.trace.stepMs);
    return ((offsetSteps % n) + n) % n;
  }

  /** Start of the period containing virtual time `virtualMs`. */
  periodStart(virtualMs: number): number {
    return Math.floor(virtualMs / this.periodMs) * this.periodMs;
  }

  /** The trace's own timestamp for virtual time `virtualMs` (for tooltips: "replaying 2023-03-01 14:00"). */
  traceTimestampAt(virtualMs: number): number {
    return this.trace.timestampsMs[this.indexAt(virtualMs)];
  }

  private pointAt(periodStartMs: number): IntensityPoint {
    return { timestampMs: periodStartMs, intensityGPerKwh: this.trace.intensitiesGPerKwh[this.indexAt(periodStartMs)] };
  }

  async latest(wallMs: number): Promise<CarbonReading> {
    const start = this.periodStart(this.virtualNow(wallMs));
    return { ...this.pointAt(start), fetchedAtMs: wallMs, stale: false };
  }

  /** Arguments and results are in virtual time. */
  async history(fromMs: number, toMs: number): Promise<IntensityPoint[]> {
    const periods = Math.ceil((toMs - this.periodStart(fromMs)) / this.periodMs);
    if (periods > MAX_REPLAY_POINTS) {
      throw new CarbonSourceError(`The replay was asked for ${periods} periods at once (at most ${MAX_REPLAY_POINTS}); ask for a shorter range or a lower chase.carbon.replaySpeed.`, 'unavailable');
    }
    const out: IntensityPoint[] = [];
    for (let t = this.periodStart(fromMs); t < toMs; t += this.periodMs) if (t >= fromMs) out.push(this.pointAt(t));
    return out;
  }

  /** A trace knows its own future exactly; the dashboard labels it "trace". */
  async forecast(fromMs: number, hours: number): Promise<ForecastPoint[]> {
    return this.history(fromMs, fromMs + hours * HOUR_MS);
  }
}
