/**
 * The interface every carbon source implements, and the reading type they return.
 * Providers are created from settings by `createProvider` (agent/carbon/index.ts).
 */
import type { CarbonSourceInfo, ForecastPoint, IntensityPoint } from '../protocol/messages';

export interface CarbonReading extends IntensityPoint {
  /** When the provider obtained it (epoch ms UTC). */
  fetchedAtMs: number;
  /** True when this is an offline fallback older than the provider's period allows. */
  stale: boolean;
  staleReason?: string;
  /** Why a fresh value is not a plain measurement, e.g. the API's forecast standing in for an actual not yet published. */
  note?: string;
}

export interface CarbonProvider {
  readonly info: CarbonSourceInfo;
  /** The provider's granularity (e.g. 1 h for traces, 30 min for UK NESO, 5 min for WattTime). */
  readonly periodMs: number;
  /** The reading for the period containing `nowMs`. Throws {@link CarbonSourceError} when it cannot. */
  latest(nowMs: number): Promise<CarbonReading>;
  /** Actual readings in [fromMs, toMs), oldest first. */
  history(fromMs: number, toMs: number): Promise<IntensityPoint[]>;
  /** The provider's own forecast from `fromMs` for `hours`, or undefined when it has none. */
  forecast(fromMs: number, hours: number): Promise<ForecastPoint[] | undefined>;
  dispose?(): void;
  /**
   * Notes for the status next to the reading (web-API providers), e.g. "Electricity Maps' forecast is
   * not in your plan: Chase uses its own forecast."
   */
  readonly notices?: readonly string[];
  /** The last failure of a web-API provider, cleared by the next success (also when a stale fallback was returned). */
  readonly lastError?: CarbonSourceError;
}

/** A failure a user can act on; `message` says what to do. */
export class CarbonSourceError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid-settings' | 'unknown-zone' | 'unavailable' | 'auth' | 'rate-limited' | 'not-in-plan' | 'malformed',
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'CarbonSourceError';
  }
}
