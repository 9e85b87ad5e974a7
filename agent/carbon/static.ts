/** A fixed intensity, for air-gapped machines where no trace or API fits. */
import type { CarbonSourceInfo, ForecastPoint, IntensityPoint } from '../protocol/messages';
import { CarbonSourceError, type CarbonProvider, type CarbonReading } from './provider';
import { HOUR_MS } from '../protocol/units';


export class StaticProvider implements CarbonProvider {
  readonly info: CarbonSourceInfo;
  readonly periodMs = HOUR_MS;

  constructor(readonly intensityGPerKwh: number, zone: string) {
    if (!Number.isFinite(intensityGPerKwh) || intensityGPerKwh < 0) {
      throw new CarbonSourceError(`chase.carbon.staticIntensity must be a non-negative number of g/kWh (got ${intensityGPerKwh})`, 'invalid-settings');
    }
    this.info = { kind: 'static', label: `static ${intensityGPerKwh} g/kWh`, zone, signal: 'average', attribution: 'value set in settings' };
  }

  private series(fromMs: number, toMs: number): IntensityPoint[] {
    const out: IntensityPoint[] = [];
    for (let t = Math.ceil(fromMs / HOUR_MS) * HOUR_MS; t < toMs; t += HOUR_MS) out.push({ timestampMs: t, intensityGPerKwh: this.intensityGPerKwh });
    return out;
  }

  async latest(nowMs: number): Promise<CarbonReading> {
    return { timestampMs: Math.floor(nowMs / HOUR_MS) * HOUR_MS, intensityGPerKwh: this.intensityGPerKwh, fetchedAtMs: nowMs, stale: false };
  }

  async history(fromMs: number, toMs: number): Promise<IntensityPoint[]> {
    return this.series(fromMs, toMs);
  }

  async forecast(fromMs: number, hours: number): Promise<ForecastPoint[]> {
    return this.series(fromMs, fromMs + hours * HOUR_MS);
  }
}
