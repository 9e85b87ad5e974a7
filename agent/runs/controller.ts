/**
 * A run's controller: which power limit its GPUs get, and when. It measures the job's profile
 * (Zeus-style, online), then applies a policy once per carbon period. As in Zeus's
 * `zeus/optimizer/power_limit.py`, each state is a type that carries what that state needs.
 *
 * State machine:
 *   starting ──begin──▶ profiling{profiler} ──last window──▶ controlling{policy, profile}
 *            └─begin with a profile (given or stored)──────▶ controlling
 *   profiling ──profiling saw no progress──▶ holding{reason}   (the maximum limit is kept)
 *   controlling ──throughput off the profile (drift)──▶ profiling   (measured again, then stored)
 *
 * Its events are explicit methods, so that they can come from elsewhere than this run's own tick:
 *   `windowMeasured(window)`  a profiling window was measured (by this run; or — for a job spread
 *                             over several nodes — the same window aggregated across them);
 *   `decide(progress)`        the decision for the current period (policy, forecast, expectation);
 *   `applyDecision(decision)` applies a decision (this run's, or one made for the whole job).
 * `step(progress)`, called on every tick, drives them for a run that decides for itself; on a
 * distributed job's deciding node it is called once per sync round with the whole job's aggregates
 * (energy SUM over nodes, time MAX over ranks: distributed.ts), and returns the move to broadcast.
 * `applyLimit(limitMw)` applies a limit the job's deciding node broadcast (the other nodes).
 *
 * When limits may not be set (no permission, or a write fails) the controller goes on in advise
 * mode: every limit is computed and reported, none applied.
 */
import type { GpuControl } from '../gpu/backend';
import type { GpuLease } from '../gpu/limits';
import { createPolicy, type Policy } from '../control/index';
import { pointForLimit, profileFromMeasurements, type LimitMeasurement, type PowerProfile } from '../profile/profile';
import { createForecaster } from '../forecast/index';
import type { Forecaster } from '../forecast/types';
import type { Logger } from '../log';
import type { RunPolicyName } from '../protocol/messages';
import { DAY_MS } from '../protocol/units';
import { carbonOfEnergyG, milliwattsToWatts } from '../protocol/accounting';
import { formatWatts } from '../protocol/format';
import { DEFAULT_PROFILER, OnlineProfiler } from './profiler';
import { DRIFT_PERIODS, DRIFT_THRESHOLD_PCT, DriftDetector, type ProfileStore } from './profileStore';
import type { RunCarbon } from './runCarbon';

/** Without a known total amount of work, the policy plans over a rolling horizon this long. */
const HORIZON_MS = DAY_MS;

/** A decision for one carbon period, as made (by this run's policy, or by the job's deciding node). */
export interface Decision {
  atMs: number;
  /** Virtual (carbon-clock) start of the period decided. */
  periodStartMs: number;
  intensityGPerKwh: number;
  /** The default forecaster's expectation for this period (the information rule: from history only). */
  forecastGPerKwh?: number;
  powerLimitMw: number;
  /** Expected carbon saved in this period against doing the same work at the maximum limit, g (from the profile and the forecast). */
  expectedSavingG?: number;
  policy: string;
}

/** A limit a step moved the GPUs to: a profiling candidate, or a period's decision (or the maximum, held). */
export interface StepMove {
  kind: 'profile' | 'control';
  powerLimitMw: number;
}

/** A decision as this run applied it. */
export interface RunDecision extends Decision {
  /** Applied, or only advised (no permission). */
  applied: boolean;
}

/** Where the run is, as the controller sees it each tick. */
export interface RunProgress {
  /** Wall clock, epoch ms. */
  atMs: number;
  /** Wall ms since the run started. */
  elapsedMs: number;
  /** Energy the run's GPUs used so far, J. */
  energyJ: number;
  /** Work done so far, in progress units. */
  unitsDone: number;
  /** When the progress signal last moved (it arrives in bursts, not at tick times). */
  unitsAtMs: number | undefined;
  /** What a progress unit is: reporter samples, or steps of the output. */
  unit: 'samples' | 'steps';
}

/** Where this run's workload profile is kept: loaded to skip profiling, saved after it. */
export interface ProfileSlot {
  store: ProfileStore;
  gpuModel: string;
  workloadKey: string;
}

export interface ControllerDeps {
  runId: string;
  /** The run's GPUs: limits go through it. */
  lease: GpuLease;
  /** The range every GPU of the run accepts (one limit for the whole group). */
  limitRange: { minLimitMw: number; maxLimitMw: number };
  carbon: RunCarbon;
  policy: { name: RunPolicyName; budgetPct: number; eta?: number; totalUnits?: number };
  profiler?: Partial<typeof DEFAULT_PROFILER>;
  profiles?: ProfileSlot;
  log: Logger;
  onDecision?: (d: RunDecision) => void;
}

interface Controlling {
  kind: 'controlling';
  policy: Policy;
  profile: PowerProfile;
  /** The profile in the carbon clock, as the policy sees it (see `inCarbonClock`). */
  scaled: PowerProfile;
  nextDecisionWallMs: number;
  /** Work and wall time at the last decision: the window over which drift is measured. */
  lastDecision: { wallMs: number; units: number } | undefined;
  drift: DriftDetector;
}

export type ControllerState =
  | { kind: 'starting' }
  /** `previous`: the profile being replaced after drift (accounting goes on with it until the new one is measured). */
  | { kind: 'profiling'; profiler: OnlineProfiler; previous: PowerProfile | undefined }
  | Controlling
  | { kind: 'holding'; reason: string; profile: PowerProfile | undefined };

export class RunController {
  private current: ControllerState = { kind: 'starting' };
  private limit: number | undefined;
  private adviseReason: string | undefined;
  /** The profile accounting uses came from the profile store (also while it is measured again after drift). */
  private profileStored = false;
  private decisionForecaster: Forecaster | undefined;

  constructor(private readonly deps: ControllerDeps) {}

  get state(): ControllerState {
    return this.current;
  }

  /** The run state this controller state shows as (holding shows as controlling: the limit is decided). */
  get phase(): 'starting' | 'profiling' | 'controlling' {
    return this.current.kind === 'holding' ? 'controlling' : this.current.kind;
  }

  /** The profile accounting uses: the one in force, or the one being re-measured. */
  get profile(): PowerProfile | undefined {
    const s = this.current;
    return s.kind === 'controlling' || s.kind === 'holding' ? s.profile : s.kind === 'profiling' ? s.previous : undefined;
  }

  /** Whether the profile in use was loaded from the profile store (rather than measured by this run). */
  get reusedProfile(): boolean {
    return this.profileStored;
  }

  /** The policy deciding now (e.g. `chase-paper-eta0.5`); none while profiling. */
  get policyName(): string | undefined {
    return this.current.kind === 'controlling' ? this.current.policy.name : undefined;
  }

  /** The limit last applied (or, in advise mode, advised), mW. */
  get limitMw(): number | undefined {
    return this.limit;
  }

  /** Why limits are only advised, when they are. */
  get advise(): string | undefined {
    return this.adviseReason;
  }

  /** What keeps the controller from controlling (holding), for the run's summary. */
  get problem(): string | undefined {
    return this.current.kind === 'holding' ? this.current.reason : undefined;
  }

  /**
   * Starts: in advise mode when the GPUs may not be controlled; controlling at once with `profile`,
   * or the stored profile of this workload, else profiling.
   */
  begin(control: GpuControl, profile?: PowerProfile): void {
    if (this.current.kind !== 'starting') return;
    if (control.state === 'advise') this.adviseReason = control.reason;
    const stored = profile ? undefined : this.loadStoredProfile();
    const known = profile ?? stored;
    if (known) this.control(known, stored !== undefined);
    else this.current = { kind: 'profiling', profiler: this.newProfiler(), previous: undefined };
  }

  /**
   * One tick of a run that decides for itself (or, on a distributed job's deciding node, one sync
   * round of the whole job): profiling windows, then a decision each period. Returns the limit the
   * GPUs moved to in this tick, if they moved (a distributed job broadcasts it to every node).
   */
  async step(p: RunProgress): Promise<StepMove | undefined> {
    const s = this.current;
    if (s.kind === 'profiling') {
      const e = s.profiler.tick({ atMs: p.atMs, energyJ: p.energyJ, units: p.unitsDone, unitsAtMs: p.unitsAtMs });
      if (e?.kind === 'limit') {
        await this.apply(e.limitMw);
        return { kind: 'profile', powerLimitMw: e.limitMw };
      }
      if (e?.kind === 'window') await this.windowMeasured(e.window, p);
      else if (s.profiler.done) await this.profiled(s, p.unit);
      const now = this.current;
      if (now === s && e?.kind === 'window' && s.profiler.currentLimitMw !== undefined) return { kind: 'profile', powerLimitMw: s.profiler.currentLimitMw };
      // profiling saw no progress: the maximum limit is held
      if (now.kind === 'holding' && this.limit !== undefined) return { kind: 'control', powerLimitMw: this.limit };
      return undefined;
    }
    if (s.kind !== 'controlling' || p.atMs < s.nextDecisionWallMs) return undefined;
    if (this.drifted(s, p)) return undefined;
    const d = await this.decide(p);
    s.nextDecisionWallMs = this.deps.carbon.nextPeriodWallMs(p.atMs);
    if (!d) return undefined;
    await this.applyDecision(d);
    return { kind: 'control', powerLimitMw: d.powerLimitMw };
  }

  /**
   * Applies a limit decided elsewhere (a distributed job's deciding node) to the run's GPUs; in
   * advise mode only records it. True when it was applied.
   */
  applyLimit(limitMw: number): Promise<boolean> {
    return this.apply(limitMw);
  }

  /**
   * A profiling window of the candidate being measured: the profiler moves on to the next candidate
   * (applied here), or — after the last — the profile is built, stored, and control starts.
   */
  async windowMeasured(window: LimitMeasurement, at: { atMs: number; unit: RunProgress['unit'] }): Promise<void> {
    const s = this.current;
    if (s.kind !== 'profiling') return;
    const next = s.profiler.record(window, at.atMs);
    if (next !== undefined) await this.apply(next);
    if (s.profiler.done) await this.profiled(s, at.unit);
  }

  /** The decision for the period `p.atMs` falls in, from the policy in force (none unless controlling). */
  async decide(p: RunProgress): Promise<Decision | undefined> {
    const s = this.current;
    if (s.kind !== 'controlling') return undefined;
    const { carbon, log, runId } = this.deps;
    const wall = p.atMs;
    const periodStartMs = carbon.periodStart(carbon.virtualNow(wall));
    const history = await carbon.historyBefore(wall);
    const intensityGPerKwh = await carbon.intensityAt(wall);
    const unitsTotal = this.deps.policy.totalUnits ?? p.unitsDone + s.scaled.maxPoint.unitsPerS * (HORIZON_MS / 1000);
    const t0 = performance.now();
    const powerLimitMw = s.policy.decide({ nowMs: periodStartMs, periodMs: carbon.periodMs, history, unitsDone: p.unitsDone, unitsTotal: Math.max(unitsTotal, p.unitsDone + 1), elapsedMs: p.elapsedMs * carbon.speed });
    log.debug(`run ${runId}: ${s.policy.name} decided ${powerLimitMw} mW in ${(performance.now() - t0).toFixed(1)} ms`);
    const forecastGPerKwh = history.length > 0 ? this.expectedIntensity(history, periodStartMs) : undefined;
    const expectedSavingG = forecastGPerKwh !== undefined ? this.expectedSavingG(s.profile, powerLimitMw, forecastGPerKwh) : undefined;
    return {
      atMs: wall,
      periodStartMs,
      intensityGPerKwh,
      ...(forecastGPerKwh !== undefined && Number.isFinite(forecastGPerKwh) ? { forecastGPerKwh } : {}),
      ...(expectedSavingG !== undefined && Number.isFinite(expectedSavingG) ? { expectedSavingG } : {}),
      powerLimitMw,
      policy: s.policy.name,
    };
  }

  /** Applies a decision to the run's GPUs (in advise mode: records it only) and reports it. */
  async applyDecision(d: Decision): Promise<RunDecision> {
    const applied = { ...d, applied: await this.apply(d.powerLimitMw) };
    this.deps.onDecision?.(applied);
    return applied;
  }

  private control(profile: PowerProfile, stored: boolean): void {
    const { policy, carbon } = this.deps;
    const scaled = inCarbonClock(profile, carbon.speed);
    this.profileStored = stored;
    this.current = {
      kind: 'controlling',
      policy: createPolicy(policy.name, scaled, { budgetPct: policy.budgetPct, ...(policy.eta !== undefined ? { eta: policy.eta } : {}) }),
      profile,
      scaled,
      nextDecisionWallMs: 0,
      lastDecision: undefined,
      drift: new DriftDetector(),
    };
  }

  private newProfiler(): OnlineProfiler {
    return new OnlineProfiler({ ...this.deps.limitRange, budgetPct: this.deps.policy.budgetPct, ...DEFAULT_PROFILER, ...this.deps.profiler });
  }

  /** Profiling is over: control with the measured profile (stored for later runs), or hold the maximum limit when nothing was measured. */
  private async profiled(s: Extract<ControllerState, { kind: 'profiling' }>, unit: RunProgress['unit']): Promise<void> {
    if (this.current !== s) return;
    const { runId, log } = this.deps;
    const measurements = [...s.profiler.measurements];
    if (measurements.length === 0) {
      const reason = 'No progress was seen while profiling (no tqdm/Keras/HF output and no chase_reporter steps): Chase keeps the maximum limit.';
      log.warn(`run ${runId}: ${reason}`);
      this.current = { kind: 'holding', reason, profile: s.previous };
      await this.apply(this.deps.limitRange.maxLimitMw);
      return;
    }
    const profile = profileFromMeasurements(`run ${runId}`, unit, measurements);
    log.info(`run ${runId}: profiled ${measurements.length} limits`);
    this.saveProfile(measurements);
    log.debug(`run ${runId}: measurements ${JSON.stringify(measurements)}`);
    this.control(profile, false);
  }

  /**
   * Re-profile on drift: when the throughput over the last period is off the profile's at the limit
   * in force by more than 25 % for 3 periods in a row (a new phase: evaluation, another model…), the
   * profile no longer describes the job; it is measured again (and the stored one replaced).
   */
  private drifted(s: Controlling, p: RunProgress): boolean {
    const last = s.lastDecision;
    s.lastDecision = { wallMs: p.atMs, units: p.unitsDone };
    if (!last || p.atMs <= last.wallMs) return false;
    const limitMw = this.adviseReason || this.limit === undefined ? s.profile.maxPoint.powerLimitMw : this.limit;
    const expected = pointForLimit(s.profile, limitMw).unitsPerS;
    const measured = (p.unitsDone - last.units) / ((p.atMs - last.wallMs) / 1000);
    if (!s.drift.observe(expected, measured)) return false;
    this.deps.log.info(
      `run ${this.deps.runId}: throughput ${measured.toFixed(2)}/s at ${formatWatts(limitMw)} is more than ${DRIFT_THRESHOLD_PCT} % off the profile's ${expected.toFixed(2)}/s for ${DRIFT_PERIODS} periods in a row (a new phase?): discarding the profile and profiling again`,
    );
    this.current = { kind: 'profiling', profiler: this.newProfiler(), previous: s.profile };
    return true;
  }

  /** What the default forecaster expects for the period being decided (recorded with the decision). */
  private expectedIntensity(history: Float64Array, periodStartMs: number): number {
    this.decisionForecaster ??= createForecaster('default');
    return this.decisionForecaster.forecast({ history, stepMs: this.deps.carbon.periodMs, nextTimestampMs: periodStartMs, horizonSteps: 1 }).mean[0];
  }

  /**
   * Carbon this period's limit is expected to save: the work it does in one period (wall time), done
   * instead at the maximum limit, at the forecast intensity. Uses the nearest profiled limit.
   */
  private expectedSavingG(profile: PowerProfile, limitMw: number, intensityGPerKwh: number): number {
    const at = pointForLimit(profile, limitMw);
    const periodS = this.deps.carbon.periodMs / this.deps.carbon.speed / 1000;
    const units = at.unitsPerS * periodS;
    const energyAtLimitJ = milliwattsToWatts(at.avgPowerMw) * periodS;
    const energyAtMaxJ = milliwattsToWatts(profile.maxPoint.avgPowerMw) * (units / profile.maxPoint.unitsPerS);
    return carbonOfEnergyG(energyAtMaxJ - energyAtLimitJ, intensityGPerKwh);
  }

  /** Applies one limit to all the run's GPUs; in advise mode only records it. A refused write turns advise mode on. */
  private async apply(limitMw: number): Promise<boolean> {
    this.limit = limitMw;
    if (this.adviseReason) return false;
    try {
      const r = await this.deps.lease.setLimit(limitMw);
      this.limit = r.appliedMw;
      return true;
    } catch (e) {
      this.adviseReason = e instanceof Error ? e.message : String(e);
      this.deps.log.warn(`run ${this.deps.runId}: limits not applied, advising only: ${this.adviseReason}`);
      return false;
    }
  }

  private loadStoredProfile(): PowerProfile | undefined {
    const slot = this.deps.profiles;
    if (!slot) return undefined;
    const { runId, log } = this.deps;
    try {
      const p = slot.store.load(slot.gpuModel, slot.workloadKey);
      if (p) log.info(`run ${runId}: reusing the stored profile of workload "${slot.workloadKey}" on ${slot.gpuModel} (${p.measured.length} limits): no profiling`);
      return p;
    } catch (e) {
      log.warn(`run ${runId}: could not load a stored profile for "${slot.workloadKey}": ${String(e)}`);
      return undefined;
    }
  }

  private saveProfile(measurements: readonly LimitMeasurement[]): void {
    const slot = this.deps.profiles;
    if (!slot) return;
    const { runId, log } = this.deps;
    try {
      slot.store.save(slot.gpuModel, slot.workloadKey, measurements);
      log.info(`run ${runId}: saved the profile of workload "${slot.workloadKey}" on ${slot.gpuModel}`);
    } catch (e) {
      log.warn(`run ${runId}: could not save the profile of "${slot.workloadKey}": ${String(e)}`);
    }
  }
}

/** The profile in the carbon clock: with a replay N× faster, the job does 1/N of the work per virtual second. */
export function inCarbonClock(p: PowerProfile, speed: number): PowerProfile {
  const k = 1 / speed;
  if (k === 1) return p;
  const scale = <T extends { unitsPerS: number }>(x: T): T => ({ ...x, unitsPerS: x.unitsPerS * k });
  return { ...p, measured: p.measured.map(scale), candidates: p.candidates.map(scale), efficient: p.efficient.map(scale), frontier: p.frontier.map(scale), maxPoint: scale(p.maxPoint) };
}
