/**
 * A training run under carbon-aware control: a process (launched here, or attached by PID), the GPUs
 * it uses, a progress signal, a slowdown budget and a policy.
 *
 * State machine:  starting → profiling → controlling → finished | failed
 *   starting     its GPUs are already claimed (the lease); the process is launched (or found).
 *   profiling    OnlineProfiler walks the power limits (skipped when a stored profile fits).
 *   controlling  at each carbon period the policy picks one limit for all the run's GPUs.
 *   finished     the process exited (its exit code is kept); limits restored; summary final.
 * Whatever ends the run — the job exiting, being killed, stop() — its lease is released: its own
 * GPUs are restored, and nothing else (other runs of the same agent keep their limits).
 *
 * Accounting (every sample tick): energy from the GPUs' counters (or integrated power), carbon =
 * ΔkWh × the intensity of the period it was used in; the max-power baseline is the same work done
 * at the profile's maximum limit, i.e. units / rate(max) seconds at power(max), weighted by the same
 * periods' intensities. Slowdown = elapsed / (units / rate(max)) − 1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { GpuBackend } from '../gpu/backend';
import type { GpuLease } from '../gpu/limits';
import { EnergyMeter } from '../gpu/energy';
import { budgetedPolicy, chasePaperPolicy, energyOnlyPolicy, maxPowerPolicy, staticBestPolicy, type Policy } from '../control/policy';
import { pointForLimit, profileFromMeasurements, type LimitMeasurement, type PowerProfile } from '../control/profile';
import { createForecaster } from '../forecast/index';
import type { Forecaster } from '../forecast/types';
import type { Logger } from '../log';
import { LineSplitter, parseProgressLine, ProgressTracker } from './progress';
import type { RunPolicyName, RunState, RunSummary } from '../protocol/messages';
import { OnlineProfiler, DEFAULT_PROFILER, type ProfilerOptions } from './profiler';
import type { RunCarbon } from './runCarbon';
import type { ReporterServer } from './reporterServer';
import { DRIFT_PERIODS, DRIFT_THRESHOLD_PCT, DriftDetector, workloadKeyOf, type ProfileStore } from './profileStore';
import { carbonOfEnergyG, millijoulesToJoules, milliwattsToWatts } from '../store/accounting';
import { processAlive } from '../process';
import { jobEnv } from './jobEnv';
import { constants } from 'node:os';
import { DAY_MS } from '../protocol/units';

export type { RunPolicyName, RunState, RunSummary } from '../protocol/messages';

export interface RunOptions {
  id: string;
  /** Launch this command… */
  command?: { file: string; args: string[]; cwd?: string; env?: NodeJS.ProcessEnv };
  /** …or attach to this running process. */
  attachPid?: number;
  /** Backend indices of the GPUs the job uses. */
  gpuIndices: number[];
  budgetPct: number;
  policy: RunPolicyName;
  eta?: number;
  /** Total work of the job, in progress units, when known; else a rolling 24 h horizon is assumed. */
  totalUnits?: number;
  /** A profile to reuse (from an earlier run of the same GPU model and workload). */
  profile?: PowerProfile;
  /**
   * Key of the workload in the profile store (with the GPU model); default: the command's script
   * name + a hash of its arguments (see workloadKeyOf). An attached process has none unless given.
   */
  workloadKey?: string;
  profiler?: Partial<typeof DEFAULT_PROFILER>;
  /** Accounting and progress tick, wall ms (default: the carbon clock's, RunCarbon.sampleMs). */
  sampleMs?: number;
  /** Simulated GPUs: where to write the relative throughput the demo workload follows. */
  simulatedThroughputFile?: string;
}

export interface RunDeps {
  /** Reads (power, energy, limits) and the GPUs' identities. */
  backend: GpuBackend;
  /** The run's GPUs, claimed for it before it starts: limits go through it, and it is released when the run ends. */
  lease: GpuLease;
  carbon: RunCarbon;
  reporter?: ReporterServer;
  log: Logger;
  now?: () => number;
  /** The job's output, as it comes. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  onDecision?: (d: RunDecision) => void;
  /** Profiles of earlier runs, per (GPU model, workload key): loaded to skip profiling, saved after it. */
  profiles?: ProfileStore;
}

export interface RunDecision {
  atMs: number;
  /** Virtual (carbon-clock) start of the period decided. */
  periodStartMs: number;
  intensityGPerKwh: number;
  /** The default forecaster's expectation for this period (the information rule: from history only). */
  forecastGPerKwh?: number;
  powerLimitMw: number;
  /** Expected carbon saved in this period against doing the same work at the maximum limit, g (from the profile and the forecast). */
  expectedSavingG?: number;
  /** Applied, or only advised (no permission). */
  applied: boolean;
  policy: string;
}

const HORIZON_MS = DAY_MS;

interface PeriodBucket {
  intensityGPerKwh: number;
  units: number;
}

export class Run {
  private state: RunState = 'starting';
  private child: ChildProcess | undefined;
  private readonly tracker = new ProgressTracker();
  private readonly meters: EnergyMeter[];
  private energyJ = 0;
  private carbonG = 0;
  private readonly buckets = new Map<number, PeriodBucket>();
  /** Work already credited to a period bucket. */
  private accountedUnits = 0;
  private profile: PowerProfile | undefined;
  private profiler: OnlineProfiler | undefined;
  private policy: Policy | undefined;
  private limitMw: number | undefined;
  private advise: string | undefined;
  private startedAtMs = 0;
  private endedAtMs: number | undefined;
  private exitCode: number | null | undefined;
  private error: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private nextDecisionWallMs = 0;
  private ticking = false;
  private finishedResolve!: (s: RunSummary) => void;
  readonly finished: Promise<RunSummary>;
  private readonly now: () => number;
  private readonly uuids: string[];
  /** Simulated GPUs start at their default (maximum) limit: the epoch time there is the reference. */
  private simEpochMsAtStart: number | undefined;
  private simWritten: string | undefined;
  /** The profile came from the store (no profiling was needed). */
  private profileReused = false;
  private readonly drift = new DriftDetector();
  /** Work and wall time at the last decision: the window over which drift is measured. */
  private lastDecision: { wallMs: number; units: number } | undefined;
  /** Raw energy counter readings per GPU (first and last), mJ; undefined without a counter. */
  private readonly counters: Array<{ firstMj?: number; lastMj?: number }>;

  constructor(
    readonly options: RunOptions,
    private readonly deps: RunDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.finished = new Promise((resolve) => (this.finishedResolve = resolve));
    const devices = deps.backend.devices();
    this.uuids = options.gpuIndices.map((i) => {
      const d = devices.find((x) => x.index === i);
      if (!d) throw new Error(`GPU ${i} does not exist on this host (${devices.length} GPUs: ${devices.map((x) => x.index).join(', ')}).`);
      return d.uuid;
    });
    this.meters = options.gpuIndices.map((i) => new EnergyMeter(devices.find((d) => d.index === i)!.energyCounter));
    this.profile = options.profile;
    this.counters = options.gpuIndices.map(() => ({}));
  }

  /** GPU model of the run's (first) GPU: the profile store's key with the workload key. */
  get gpuModel(): string {
    return this.deps.backend.devices().find((d) => d.index === this.options.gpuIndices[0])?.name ?? 'unknown GPU';
  }

  get workloadKey(): string | undefined {
    const c = this.options.command;
    return this.options.workloadKey ?? (c ? workloadKeyOf(c.file, c.args) : undefined);
  }

  /** Whether the profile in use was loaded from the profile store. */
  get reusedProfile(): boolean {
    return this.profileReused;
  }

  /** The GPUs' raw energy counters at the first and the last sample, mJ (for cross-checks). */
  get energyCounters(): Array<{ uuid: string; firstMj?: number; lastMj?: number }> {
    return this.uuids.map((uuid, k) => ({ uuid, ...this.counters[k] }));
  }

  get summary(): RunSummary {
    const base = this.baseline();
    const elapsedMs = (this.endedAtMs ?? this.now()) - this.startedAtMs;
    const units = this.tracker.cumulative;
    const slowdownPct = this.profile && units > 0 ? (elapsedMs / 1000 / (units / this.profile.maxPoint.unitsPerS) - 1) * 100 : undefined;
    const c = this.options.command;
    return {
      id: this.options.id,
      state: this.state,
      command: c ? [c.file, ...c.args].join(' ') : `pid ${this.options.attachPid}`,
      ...(this.child?.pid !== undefined ? { pid: this.child.pid } : this.options.attachPid ? { pid: this.options.attachPid } : {}),
      gpuUuids: this.uuids,
      policy: this.policy?.name ?? this.options.policy,
      budgetPct: this.options.budgetPct,
      ...(this.tracker.format ? { progressSource: this.tracker.format } : {}),
      startedAtMs: this.startedAtMs,
      ...(this.endedAtMs !== undefined ? { endedAtMs: this.endedAtMs } : {}),
      energyJ: this.energyJ,
      carbonG: this.carbonG,
      ...(base ? { baselineCarbonG: base.carbonG, baselineEnergyJ: base.energyJ, savedCarbonG: base.carbonG - this.carbonG } : {}),
      ...(slowdownPct !== undefined ? { slowdownPct } : {}),
      unitsDone: units,
      ...(this.limitMw !== undefined ? { currentLimitMw: this.limitMw } : {}),
      ...(this.advise ? { advise: this.advise } : {}),
      ...(this.exitCode !== undefined ? { exitCode: this.exitCode } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  /** Launches or attaches, then runs until the process ends. Resolves with the final summary. */
  async start(): Promise<RunSummary> {
    this.startedAtMs = this.now();
    const control = await this.deps.lease.control();
    if (control.state === 'advise') this.advise = control.reason;
    if (this.options.command) this.launch(this.options.command);
    else if (this.options.attachPid !== undefined) this.attach(this.options.attachPid);
    else throw new Error('A run needs a command to launch or a PID to attach to.');
    if (this.state === 'failed') return this.finished;
    await this.sampleGpus(); // first counters: the meters start from here
    if (!this.profile) this.loadStoredProfile();
    if (!this.profile) {
      this.profiler = this.newProfiler();
      this.state = 'profiling';
    } else {
      this.startControl();
    }
    const tick = this.options.sampleMs ?? this.deps.carbon.sampleMs;
    this.timer = setInterval(() => void this.tick(), tick);
    return this.finished;
  }

  private newProfiler(): OnlineProfiler {
    const { minLimitMw, maxLimitMw } = this.limitRange();
    const o: ProfilerOptions = { minLimitMw, maxLimitMw, budgetPct: this.options.budgetPct, ...DEFAULT_PROFILER, ...this.options.profiler };
    return new OnlineProfiler(o);
  }

  private loadStoredProfile(): void {
    const key = this.workloadKey;
    if (!this.deps.profiles || key === undefined) return;
    try {
      const p = this.deps.profiles.load(this.gpuModel, key);
      if (!p) return;
      this.profile = p;
      this.profileReused = true;
      this.deps.log.info(`run ${this.options.id}: reusing the stored profile of workload "${key}" on ${this.gpuModel} (${p.measured.length} limits): no profiling`);
    } catch (e) {
      this.deps.log.warn(`run ${this.options.id}: could not load a stored profile for "${key}": ${String(e)}`);
    }
  }

  private saveProfile(measurements: readonly LimitMeasurement[]): void {
    const key = this.workloadKey;
    if (!this.deps.profiles || key === undefined) return;
    try {
      this.deps.profiles.save(this.gpuModel, key, measurements);
      this.deps.log.info(`run ${this.options.id}: saved the profile of workload "${key}" on ${this.gpuModel}`);
    } catch (e) {
      this.deps.log.warn(`run ${this.options.id}: could not save the profile of "${key}": ${String(e)}`);
    }
  }

  private limitRange(): { minLimitMw: number; maxLimitMw: number } {
    const ds = this.deps.backend.devices().filter((d) => this.options.gpuIndices.includes(d.index));
    // One limit for the whole group: the range every GPU accepts.
    return { minLimitMw: Math.max(...ds.map((d) => d.minLimitMw)), maxLimitMw: Math.min(...ds.map((d) => d.maxLimitMw)) };
  }

  private launch(cmd: NonNullable<RunOptions['command']>): void {
    const env: NodeJS.ProcessEnv = jobEnv({ ...process.env, ...cmd.env });
    if (this.deps.reporter) Object.assign(env, this.deps.reporter.register(this.options.id, { pythonPath: env.PYTHONPATH }));
    if (this.options.simulatedThroughputFile) {
      env.CHASE_SIM_THROUGHPUT_FILE = this.options.simulatedThroughputFile;
      this.writeSimulatedThroughput();
    }
    if (!this.deps.backend.simulated) env.CUDA_VISIBLE_DEVICES = this.uuids.join(',');
    env.PYTHONUNBUFFERED = '1';
    const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (text: string) => {
        this.deps.onOutput?.(stream, text);
        for (const line of splitters[stream].push(text)) this.observeLine(line);
      });
    }
    child.on('error', (e) => {
      this.error = `Could not start "${cmd.file}": ${e.message}. Check the command and that it is on PATH.`;
      void this.end(null, 'failed');
    });
    child.on('exit', (code, signal) => {
      for (const s of ['stdout', 'stderr'] as const) for (const line of splitters[s].flush()) this.observeLine(line);
      void this.end(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null), 'finished');
    });
  }

  private attach(pid: number): void {
    if (!processAlive(pid)) {
      this.error = `No process with PID ${pid} is running. Check the PID (ps -p ${pid}) and attach to a live process.`;
      void this.end(null, 'failed'); // sets the state at once; the summary resolves after the GPUs are restored
      return;
    }
    this.deps.log.info(`run ${this.options.id}: attached to PID ${pid}; progress from GPU activity (progressSource gpu-proxy: energy at the maximum limit's power, not the job's own steps)`);
  }

  /** Credits work reported by the Python reporter. */
  reportSteps(steps: number, samples: number | undefined): void {
    this.tracker.add(samples ?? steps, this.now());
  }

  private observeLine(line: string): void {
    const sample = parseProgressLine(line);
    if (sample && this.tracker.format !== 'reporter') this.tracker.observe(sample, this.now());
  }

  private async sampleGpus(): Promise<number> {
    let deltaMj = 0;
    for (let k = 0; k < this.options.gpuIndices.length; k++) {
      const meter = this.meters[k];
      const before = meter.totalMj;
      const reading = await this.deps.backend.read(this.options.gpuIndices[k]);
      meter.update(reading);
      if (reading.energyMj !== undefined) {
        this.counters[k].firstMj ??= reading.energyMj;
        this.counters[k].lastMj = reading.energyMj;
      }
      deltaMj += meter.totalMj - before;
    }
    if (this.options.attachPid !== undefined && (this.tracker.format === undefined || this.tracker.format === 'gpu-proxy')) this.addActivityProxy(deltaMj);
    return deltaMj;
  }

  private lastProxyAtMs: number | undefined;

  /**
   * No progress signal from an attached job: GPU activity as a proxy, labelled `gpu-proxy`. Where
   * the backend reads it, utilization × SM clock (work units = busy seconds at 1 GHz, summed over
   * the run's GPUs); else energy at the maximum limit's power (assumes work ∝ energy: cruder).
   */
  private addActivityProxy(deltaMj: number): void {
    const now = this.now();
    const dtS = this.lastProxyAtMs === undefined ? 0 : (now - this.lastProxyAtMs) / 1000;
    this.lastProxyAtMs = now;
    const activity = this.options.gpuIndices.map((i) => this.deps.backend.activity?.(i));
    const units = activity.every((a) => a !== undefined) ? activity.reduce((sum: number, a) => sum + (a as number) / 1000, 0) * dtS : deltaMj / this.limitRange().maxLimitMw;
    this.tracker.addProxy(units, now);
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.state === 'finished' || this.state === 'failed') return;
    this.ticking = true;
    try {
      await this.account();
      if (this.options.attachPid !== undefined && !processAlive(this.options.attachPid)) return void (await this.end(null, 'finished'));
      if (this.profiler) await this.stepProfiler();
      else if (this.policy && this.now() >= this.nextDecisionWallMs) await this.decide();
      this.writeSimulatedThroughput();
    } catch (e) {
      this.deps.log.error(`run ${this.options.id}: tick failed`, e);
    } finally {
      this.ticking = false;
    }
  }

  private async account(): Promise<void> {
    const deltaMj = await this.sampleGpus();
    const atMs = this.now();
    const intensity = await this.deps.carbon.intensityAt(atMs);
    const deltaJ = millijoulesToJoules(deltaMj);
    this.energyJ += deltaJ;
    this.carbonG += carbonOfEnergyG(deltaJ, intensity);
    const period = this.deps.carbon.periodStart(this.deps.carbon.virtualNow(atMs));
    const bucket = this.buckets.get(period) ?? { intensityGPerKwh: intensity, units: 0 };
    const units = this.tracker.cumulative;
    bucket.units += units - this.accountedUnits;
    this.accountedUnits = units;
    this.buckets.set(period, bucket);
  }

  private baseline(): { energyJ: number; carbonG: number } | undefined {
    if (!this.profile) return undefined;
    const max = this.profile.maxPoint;
    let energyJ = 0;
    let carbonG = 0;
    for (const b of this.buckets.values()) {
      const j = (b.units / max.unitsPerS) * milliwattsToWatts(max.avgPowerMw);
      energyJ += j;
      carbonG += carbonOfEnergyG(j, b.intensityGPerKwh);
    }
    return { energyJ, carbonG };
  }

  private async stepProfiler(): Promise<void> {
    const profiler = this.profiler!;
    const next = profiler.tick({ atMs: this.now(), energyJ: this.energyJ, units: this.tracker.cumulative, unitsAtMs: this.tracker.lastSeenAtMs });
    if (next !== undefined) await this.apply(next);
    if (profiler.done) {
      this.profiler = undefined;
      if (profiler.measurements.length === 0) {
        this.error = 'No progress was seen while profiling (no tqdm/Keras/HF output and no chase_reporter steps): Chase keeps the maximum limit.';
        this.deps.log.warn(`run ${this.options.id}: ${this.error}`);
        await this.apply(this.limitRange().maxLimitMw);
        this.state = 'controlling';
        return;
      }
      this.profile = profileFromMeasurements(`run ${this.options.id}`, this.tracker.format === 'reporter' ? 'samples' : 'steps', [...profiler.measurements]);
      this.profileReused = false;
      this.deps.log.info(`run ${this.options.id}: profiled ${profiler.measurements.length} limits`);
      this.saveProfile(profiler.measurements);
      this.deps.log.debug(`run ${this.options.id}: measurements ${JSON.stringify(profiler.measurements)}`);
      this.startControl();
    }
  }

  private startControl(): void {
    const profile = this.scaledProfile();
    const budget = { budgetPct: this.options.budgetPct };
    const forecaster = () => createForecaster('default');
    const byName: Record<RunPolicyName, () => Policy> = {
      'max-power': () => maxPowerPolicy(profile),
      'static-best': () => staticBestPolicy(profile, budget),
      'energy-only': () => energyOnlyPolicy(profile, budget),
      'chase-paper': () => chasePaperPolicy(profile, { eta: this.options.eta ?? 0.5, forecaster: forecaster() }),
      default: () => budgetedPolicy(profile, { ...budget, forecaster: forecaster() }),
    };
    this.policy = byName[this.options.policy]();
    this.state = 'controlling';
    this.nextDecisionWallMs = 0;
    this.lastDecision = undefined;
    this.drift.reset();
  }

  /** The profile's throughput (wall clock) at a limit: the nearest candidate's. */
  private expectedUnitsPerS(limitMw: number): number {
    return pointForLimit(this.profile!, limitMw).unitsPerS;
  }

  /**
   * Re-profile on drift: when the throughput over the last period is off the profile's at the limit
   * in force by more than 25 % for 3 periods in a row (a new phase: evaluation, another model…), the
   * profile no longer describes the job; it is measured again (and the stored one replaced).
   */
  private checkDrift(wallMs: number, units: number): boolean {
    const last = this.lastDecision;
    this.lastDecision = { wallMs, units };
    if (!last || wallMs <= last.wallMs || !this.profile) return false;
    const limitMw = this.advise || this.limitMw === undefined ? this.profile.maxPoint.powerLimitMw : this.limitMw;
    const expected = this.expectedUnitsPerS(limitMw);
    const measured = (units - last.units) / ((wallMs - last.wallMs) / 1000);
    if (!this.drift.observe(expected, measured)) return false;
    this.deps.log.info(
      `run ${this.options.id}: throughput ${measured.toFixed(2)}/s at ${(limitMw / 1000).toFixed(0)} W is more than ${DRIFT_THRESHOLD_PCT} % off the profile's ${expected.toFixed(2)}/s for ${DRIFT_PERIODS} periods in a row (a new phase?): discarding the profile and profiling again`,
    );
    this.policy = undefined;
    this.profiler = this.newProfiler();
    this.state = 'profiling';
    return true;
  }

  /** The profile in the carbon clock: with a replay N× faster, the job does 1/N of the work per virtual second. */
  private scaledProfile(): PowerProfile {
    const p = this.profile!;
    const k = 1 / this.deps.carbon.speed;
    if (k === 1) return p;
    const scale = <T extends { unitsPerS: number }>(x: T): T => ({ ...x, unitsPerS: x.unitsPerS * k });
    return { ...p, measured: p.measured.map(scale), candidates: p.candidates.map(scale), efficient: p.efficient.map(scale), frontier: p.frontier.map(scale), maxPoint: scale(p.maxPoint) };
  }

  private async decide(): Promise<void> {
    const wall = this.now();
    const carbon = this.deps.carbon;
    const virtualNow = carbon.virtualNow(wall);
    const periodStartMs = carbon.periodStart(virtualNow);
    const history = await carbon.historyBefore(wall);
    const intensity = await carbon.intensityAt(wall);
    const scaled = this.scaledProfile();
    const unitsDone = this.tracker.cumulative;
    if (this.checkDrift(wall, unitsDone)) return;
    const elapsedMs = (wall - this.startedAtMs) * carbon.speed;
    const unitsTotal = this.options.totalUnits ?? unitsDone + scaled.maxPoint.unitsPerS * (HORIZON_MS / 1000);
    const t0 = performance.now();
    const limitMw = this.policy!.decide({ nowMs: periodStartMs, periodMs: carbon.periodMs, history, unitsDone, unitsTotal: Math.max(unitsTotal, unitsDone + 1), elapsedMs });
    this.deps.log.debug(`run ${this.options.id}: ${this.policy!.name} decided ${limitMw} mW in ${(performance.now() - t0).toFixed(1)} ms`);
    const applied = await this.apply(limitMw);
    this.nextDecisionWallMs = carbon.nextPeriodWallMs(wall);
    const forecastGPerKwh = history.length > 0 ? this.expectedIntensity(history, periodStartMs) : undefined;
    const expectedSavingG = forecastGPerKwh !== undefined ? this.expectedSavingG(limitMw, forecastGPerKwh) : undefined;
    const decision: RunDecision = {
      atMs: wall,
      periodStartMs,
      intensityGPerKwh: intensity,
      ...(forecastGPerKwh !== undefined && Number.isFinite(forecastGPerKwh) ? { forecastGPerKwh } : {}),
      ...(expectedSavingG !== undefined && Number.isFinite(expectedSavingG) ? { expectedSavingG } : {}),
      powerLimitMw: limitMw,
      applied,
      policy: this.policy!.name,
    };
    this.deps.onDecision?.(decision);
  }

  private decisionForecaster: Forecaster | undefined;

  /** What the default forecaster expects for the period being decided (recorded with the decision). */
  private expectedIntensity(history: Float64Array, periodStartMs: number): number {
    this.decisionForecaster ??= createForecaster('default');
    return this.decisionForecaster.forecast({ history, stepMs: this.deps.carbon.periodMs, nextTimestampMs: periodStartMs, horizonSteps: 1 }).mean[0];
  }

  /**
   * Carbon this period's limit is expected to save: the work it does in one period (wall time), done
   * instead at the maximum limit, at the forecast intensity. Uses the nearest profiled limit.
   */
  private expectedSavingG(limitMw: number, intensityGPerKwh: number): number | undefined {
    const p = this.profile;
    if (!p) return undefined;
    const at = pointForLimit(p, limitMw);
    const periodS = this.deps.carbon.periodMs / this.deps.carbon.speed / 1000;
    const units = at.unitsPerS * periodS;
    const energyAtLimitJ = (at.avgPowerMw / 1000) * periodS;
    const energyAtMaxJ = (p.maxPoint.avgPowerMw / 1000) * (units / p.maxPoint.unitsPerS);
    return carbonOfEnergyG(energyAtMaxJ - energyAtLimitJ, intensityGPerKwh);
  }

  /** Applies one limit to all the run's GPUs; in advise mode only records it. */
  private async apply(limitMw: number): Promise<boolean> {
    this.limitMw = limitMw;
    if (this.advise) return false;
    try {
      const r = await this.deps.lease.setLimit(limitMw);
      this.limitMw = r.appliedMw;
      return true;
    } catch (e) {
      this.advise = e instanceof Error ? e.message : String(e);
      this.deps.log.warn(`run ${this.options.id}: limits not applied, advising only: ${this.advise}`);
      return false;
    }
  }

  /** Simulated GPUs: the demo job slows down as the simulated limit drops (epoch time at max / now). */
  private writeSimulatedThroughput(): void {
    const file = this.options.simulatedThroughputFile;
    const epochMsNow = this.deps.backend.epochMs?.(this.options.gpuIndices[0]);
    if (!file || epochMsNow === undefined) return;
    this.simEpochMsAtStart ??= epochMsNow;
    const content = JSON.stringify({ relativeThroughput: this.simEpochMsAtStart / epochMsNow, powerLimitMw: this.limitMw });
    if (content === this.simWritten) return; // written each tick only when the limit moved
    try {
      writeFileSync(file, content);
      this.simWritten = content;
    } catch (e) {
      this.deps.log.warn(`cannot write ${file}: ${String(e)}`);
    }
  }

  /** Stops the job (SIGTERM, then SIGKILL after graceMs) — the run then ends as the process exits. */
  stop(graceMs = 5000): void {
    const child = this.child;
    if (!child || child.exitCode !== null) return void this.end(null, 'finished');
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), graceMs).unref();
  }

  private async end(exitCode: number | null, state: 'finished' | 'failed'): Promise<void> {
    if (this.state === 'finished' || this.state === 'failed') return;
    if (this.timer) clearInterval(this.timer);
    this.state = state;
    try {
      await this.account();
    } catch (e) {
      this.deps.log.warn(`run ${this.options.id}: last sample failed: ${String(e)}`);
    }
    this.exitCode = exitCode;
    this.endedAtMs = this.now();
    this.deps.reporter?.unregister(this.options.id);
    try {
      await this.deps.lease.release();
    } catch (e) {
      this.deps.log.error(`run ${this.options.id}: restoring limits failed`, e);
    }
    this.finishedResolve(this.summary);
  }
}
