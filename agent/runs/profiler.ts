/**
 * Online, Zeus-style power-limit profiling of a live job.
 *
 * State machine: for each candidate limit, `warmup` (the job adapts to the new limit; nothing is
 * counted) then `measure` (time, energy from the counters, and work done are recorded) then
 * `measured` (the window is out: `tick` returned it, and `record` — given that window, or the same
 * window aggregated across the job's nodes — moves on to the next candidate, or to `done`). Candidates
 * go from the maximum limit down in coarse steps and stop one step after the measured slowdown
 * exceeds the budget (a mix of limits may still use that point); then the two half-steps around the
 * lowest-energy limit within the budget are measured (refinement). A window with too little work
 * is extended rather than trusted. The result feeds `profileFromMeasurements` (profile/profile.ts).
 */
import type { LimitMeasurement } from '../profile/profile';

export interface ProfilerOptions {
  minLimitMw: number;
  maxLimitMw: number;
  budgetPct: number;
  /** Coarse step between candidates, mW (Zeus profiles use 25 W). */
  stepMw: number;
  warmupMs: number;
  windowMs: number;
  /** A window must see at least this much work, else it is extended (up to 4 windows). */
  minUnitsPerWindow: number;
}

export const DEFAULT_PROFILER: Omit<ProfilerOptions, 'minLimitMw' | 'maxLimitMw' | 'budgetPct'> = {
  stepMw: 25_000,
  warmupMs: 10_000,
  windowMs: 30_000,
  minUnitsPerWindow: 5,
};

export interface ProfilerCounters {
  atMs: number;
  energyJ: number;
  units: number;
  /** When the progress signal last moved (progress lines arrive in bursts, not at tick times). */
  unitsAtMs: number | undefined;
}

type Phase =
  | { kind: 'warmup'; limitMw: number; untilMs: number }
  | { kind: 'measure'; limitMw: number; start: ProfilerCounters; untilMs: number; extensions: number }
  | { kind: 'measured'; limitMw: number }
  | { kind: 'done' };

/** What a tick asks of the caller: apply a limit (the next candidate), or take a finished window to `record`. */
export type ProfilerEvent = { kind: 'limit'; limitMw: number } | { kind: 'window'; window: LimitMeasurement };

export class OnlineProfiler {
  private readonly queue: number[] = [];
  private readonly measured: LimitMeasurement[] = [];
  private phase: Phase = { kind: 'done' };
  private refined = false;

  constructor(private readonly o: ProfilerOptions) {
    for (let mw = o.maxLimitMw; mw >= o.minLimitMw - 1; mw -= o.stepMw) this.queue.push(Math.max(o.minLimitMw, mw));
  }

  get done(): boolean {
    return this.phase.kind === 'done' && this.queue.length === 0;
  }

  get measurements(): readonly LimitMeasurement[] {
    return this.measured;
  }

  /** The limit to apply now (undefined once done). */
  get currentLimitMw(): number | undefined {
    return this.phase.kind === 'done' ? undefined : this.phase.limitMw;
  }

  /**
   * Advances with the latest counters. Returns the next candidate limit to apply when profiling
   * (re)starts, or the window just measured (to `record`); else undefined.
   */
  tick(c: ProfilerCounters): ProfilerEvent | undefined {
    const p = this.phase;
    // The job must have shown progress before anything is measured (start-up is not training).
    if (p.kind === 'warmup' && c.atMs >= p.untilMs && c.units > 0) {
      this.phase = { kind: 'measure', limitMw: p.limitMw, start: c, untilMs: c.atMs + this.o.windowMs, extensions: 0 };
      return undefined;
    }
    if (p.kind === 'measure' && c.atMs >= p.untilMs) {
      const units = c.units - p.start.units;
      if (units < this.o.minUnitsPerWindow && p.extensions < 3) {
        this.phase = { ...p, untilMs: c.atMs + this.o.windowMs, extensions: p.extensions + 1 };
        return undefined;
      }
      const elapsedMs = c.atMs - p.start.atMs;
      // Rate from the progress signal's own timestamps, expressed over the energy window's length.
      const progressMs = c.unitsAtMs !== undefined && p.start.unitsAtMs !== undefined ? c.unitsAtMs - p.start.unitsAtMs : elapsedMs;
      const unitsOverWindow = progressMs > 0 ? (units * elapsedMs) / progressMs : units;
      this.phase = { kind: 'measured', limitMw: p.limitMw };
      return { kind: 'window', window: { powerLimitMw: p.limitMw, elapsedMs, energyJ: c.energyJ - p.start.energyJ, units: unitsOverWindow } };
    }
    if (p.kind === 'done' && this.queue.length > 0) {
      const limitMw = this.next(c.atMs);
      return limitMw === undefined ? undefined : { kind: 'limit', limitMw };
    }
    return undefined;
  }

  /**
   * Takes the window of the candidate being measured (a window without work counts for nothing) and
   * moves on: returns the next candidate's limit to apply, or undefined once profiling is done.
   */
  record(window: LimitMeasurement, atMs: number): number | undefined {
    if (this.phase.kind !== 'measured') return undefined;
    if (window.units > 0) this.measured.push(window);
    this.afterMeasurement();
    return this.next(atMs);
  }

  private next(atMs: number): number | undefined {
    const limitMw = this.queue.shift();
    if (limitMw === undefined) {
      this.phase = { kind: 'done' };
      return undefined;
    }
    this.phase = { kind: 'warmup', limitMw, untilMs: atMs + this.o.warmupMs };
    return limitMw;
  }

  private rate(m: LimitMeasurement): number {
    return m.units / m.elapsedMs;
  }

  /** Stops the coarse descent one step past the budget; then queues the refinement once. */
  private afterMeasurement(): void {
    const top = this.measured.find((m) => m.powerLimitMw === this.o.maxLimitMw) ?? this.measured[0];
    if (!top) return;
    const slowdownPct = (m: LimitMeasurement) => (this.rate(top) / this.rate(m) - 1) * 100;
    const last = this.measured[this.measured.length - 1];
    const overBudget = this.measured.filter((m) => slowdownPct(m) > this.o.budgetPct).length;
    if (!this.refined && (overBudget >= 2 || (overBudget >= 1 && last !== undefined && slowdownPct(last) > 2 * this.o.budgetPct + 5) || this.queue.length === 0)) {
      this.queue.length = 0;
      this.refined = true;
      const within = this.measured.filter((m) => slowdownPct(m) <= this.o.budgetPct);
      const best = within.reduce((a, b) => (b.energyJ / b.units < a.energyJ / a.units ? b : a), within[0] ?? top);
      const half = Math.round(this.o.stepMw / 2);
      for (const mw of [best.powerLimitMw - half, best.powerLimitMw + half]) {
        if (mw >= this.o.minLimitMw && mw <= this.o.maxLimitMw && !this.measured.some((m) => m.powerLimitMw === mw)) this.queue.push(mw);
      }
    }
  }
}
