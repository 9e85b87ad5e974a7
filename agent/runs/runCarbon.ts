/**
 * The carbon clock and signal, for runs and for everything else that must tell a sped-up replay's
 * virtual time from the wall clock (the carbon monitor, the `carbon` CLI, energy lookups): the only
 * place that asks whether a source is a replay. As a run sees it: the intensity of the period it is in, and the actual values
 * of the periods before (the information rule: nothing after t−1).
 *
 * Time: a replayed trace may run N× faster than real time. A run then lives in two clocks — the
 * job's wall clock and the trace's virtual clock (virtual = origin + wall·N). Decisions and carbon
 * periods use the virtual clock; the job's durations are converted by the same factor, so the
 * policies see one consistent clock (see Run).
 */
import type { CarbonProvider } from '../carbon/provider';
import { ReplayProvider } from '../carbon/replay';
import { DAY_MS, HOUR_MS } from '../protocol/units';
import { DEFAULT_PUE } from '../protocol/accounting';
import { createForecaster } from '../forecast/index';
import type { Forecaster } from '../forecast/types';
import type { PeriodForecast } from './projection';

const HISTORY_DAYS = 14;

export class RunCarbon {
  private cached: { periodStartMs: number; intensityGPerKwh: number } | undefined;
  private forecaster: Forecaster | undefined;

  /** `pue`: the facility's energy per unit of the GPUs' (chase.accounting.pue), fixed for the run. */
  constructor(
    readonly provider: CarbonProvider,
    readonly pue: number = DEFAULT_PUE,
  ) {}

  /** Virtual ms per wall ms: the replay speed, 1 for live sources. */
  get speed(): number {
    return this.provider instanceof ReplayProvider ? this.provider.speed : 1;
  }

  /** Period length in the source's own (virtual) clock. */
  get periodMs(): number {
    return this.provider.periodMs;
  }

  /** The run's accounting tick, wall ms: a quarter of a period in wall time, 50 ms to 1 s. */
  get sampleMs(): number {
    return Math.max(50, Math.min(1000, this.periodMs / this.speed / 4));
  }

  virtualNow(wallMs: number): number {
    return this.provider instanceof ReplayProvider ? this.provider.virtualNow(wallMs) : wallMs;
  }

  periodStart(virtualMs: number): number {
    return Math.floor(virtualMs / this.periodMs) * this.periodMs;
  }

  /** Wall time at which the period after the one containing `wallMs` starts. */
  nextPeriodWallMs(wallMs: number): number {
    const nextVirtual = this.periodStart(this.virtualNow(wallMs)) + this.periodMs;
    return this.provider instanceof ReplayProvider ? this.provider.wallTimeOf(nextVirtual) : nextVirtual;
  }

  /** Intensity of the period containing `wallMs` (read once per period). */
  async intensityAt(wallMs: number): Promise<number> {
    const start = this.periodStart(this.virtualNow(wallMs));
    if (this.cached?.periodStartMs !== start) {
      const reading = await this.provider.latest(wallMs);
      this.cached = { periodStartMs: start, intensityGPerKwh: reading.intensityGPerKwh };
    }
    return this.cached.intensityGPerKwh;
  }

  /**
   * The intensity expected in each period from the one containing `wallMs` on, for `hours` of the
   * carbon clock: the source's own forecast (a replay's is the trace itself), else the default
   * forecaster's from the actual values before (with its band).
   */
  async forecastFrom(wallMs: number, hours: number): Promise<PeriodForecast> {
    const startMs = this.periodStart(this.virtualNow(wallMs));
    const points = await this.provider.forecast(startMs, hours).catch(() => undefined);
    if (points && points.length > 0 && points[0].timestampMs <= startMs) {
      const banded = points.every((p) => p.lowGPerKwh !== undefined && p.highGPerKwh !== undefined);
      return {
        startMs: points[0].timestampMs,
        periodMs: this.periodMs,
        mean: points.map((p) => p.intensityGPerKwh),
        ...(banded ? { low: points.map((p) => p.lowGPerKwh ?? p.intensityGPerKwh), high: points.map((p) => p.highGPerKwh ?? p.intensityGPerKwh) } : {}),
      };
    }
    this.forecaster ??= createForecaster('default');
    const out = this.forecaster.forecast({ history: await this.historyBefore(wallMs), stepMs: this.periodMs, nextTimestampMs: startMs, horizonSteps: Math.max(1, Math.ceil((hours * HOUR_MS) / this.periodMs)) });
    return { startMs, periodMs: this.periodMs, mean: [...out.mean], ...(out.low && out.high ? { low: [...out.low], high: [...out.high] } : {}) };
  }

  /** Actual intensities of the periods before the one containing `wallMs`, oldest first. */
  async historyBefore(wallMs: number): Promise<Float64Array> {
    const start = this.periodStart(this.virtualNow(wallMs));
    const points = await this.provider.history(start - HISTORY_DAYS * DAY_MS, start);
    return Float64Array.from(points.map((p) => p.intensityGPerKwh));
  }
}
