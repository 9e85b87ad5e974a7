/**
 * A training run under carbon-aware control: its job (job.ts: launched here, or attached by PID),
 * the GPUs it uses, a progress signal (progress.ts), a meter (meter.ts: energy, carbon, the
 * max-power baseline) and a controller (controller.ts: profiling, then a policy). This class only
 * composes them and keeps time; each part gets what it needs as arguments, never the run.
 * RunManager (manager.ts) is the only place that builds one for the agent and the CLI.
 *
 * State machine (the wire's RunState):  starting → profiling → controlling → finished | failed
 *   starting     its GPUs are already claimed (the lease); the job is launched (or found).
 *   profiling    the controller measures the job's profile (skipped when a stored one fits).
 *   controlling  at each carbon period the policy picks one limit for all the run's GPUs.
 *   finished     the job exited (its exit code is kept), was stopped, or the attached process went
 *                away; limits restored; summary final.
 *   failed       the job could not be started (or attached to).
 * Whatever ends the run — the job exiting, being killed, stop() — its lease is released: its own
 * GPUs are restored, and nothing else (other runs of the same agent keep their limits).
 *
 * A run whose job is one node's part of a distributed job (distributed.ts) has a NodeCoordination:
 * once the job's ranks join, its controller no longer steps on its own ticks — on global rank 0's
 * node it steps once per sync round with the whole job's aggregates (the JobDecider below), on the
 * others it only applies the limits rank 0 broadcast. Its meter still measures this node.
 */
import type { GpuBackend, GpuControl, GpuInfo } from '../gpu/backend';
import type { GpuLease } from '../gpu/limits';
import type { PowerProfile } from '../profile/profile';
import type { Logger } from '../log';
import type { RunPolicyName, RunState, RunSummary } from '../protocol/messages';
import { parseProgressLine, ProgressTracker } from './progress';
import { DEFAULT_PROFILER } from './profiler';
import { RunController, type RunDecision } from './controller';
import { RunMeter, slowdownPct, type CounterSpan } from './meter';
import { JobProcess, describeJob, type JobSpec } from './job';
import { workloadKeyOf, type ProfileStore } from './profileStore';
import { runJobEnv } from './jobEnv';
import type { RunCarbon } from './runCarbon';
import { projectRun } from './projection';
import type { RunProjection } from '../protocol/messages';
import { NodeCoordination, type CoordinatedRun, type FollowedProvider, type JobDecider } from './distributed';
import { carbonOfEnergyG, joulesToMillijoules, milliwattsToWatts } from '../protocol/accounting';
import { DEFAULT_SYNC_EVERY_STEPS, type JobNode } from '../protocol/reporter';

export type { RunPolicyName, RunState, RunSummary } from '../protocol/messages';
export type { Decision, RunDecision } from './controller';

export interface RunOptions {
  id: string;
  /**
   * Launch this command… `env` is the job's whole environment (RunManager builds it: jobEnv.ts);
   * without one, this process's environment less the agent's secrets.
   */
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
  /**
   * The job's environment says it is one node's part of a distributed job (distributed.ts
   * expectedNodeRank): the run waits up to `joinGraceMs` for its ranks to join before it decides
   * alone, so that no node profiles or decides on its own while the job starts.
   */
  distributed?: { joinGraceMs: number };
}

/** Without a known total amount of work, the projection covers this many hours of the carbon clock (the policy's rolling horizon). */
const PROJECTION_HORIZON_H = 24;
/** How far ahead the forecast behind a projection reaches, hours of the carbon clock (beyond, its last value is carried on). */
const PROJECTION_FORECAST_H = 7 * 24;

export interface RunDeps {
  /** Reads (power, energy, activity) and the GPUs' identities. */
  backend: GpuBackend;
  /** The run's GPUs, claimed for it before it starts: limits go through it, and it is released when the run ends. */
  lease: GpuLease;
  carbon: RunCarbon;
  log: Logger;
  now?: () => number;
  /** The job's output, as it comes. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  onDecision?: (d: RunDecision) => void;
  /** Profiles of earlier runs, per (GPU model, workload key): loaded to skip profiling, saved after it. */
  profiles?: ProfileStore;
  /** A follower node's carbon source: the intensity comes with rank 0's decisions (distributed.ts). */
  followed?: FollowedProvider;
  /** Sync rounds of a distributed job, in steps (rank 0's node tells the job; default DEFAULT_SYNC_EVERY_STEPS). */
  syncEverySteps?: number;
}

/** How the run ended; `atMs` once its last sample is in and its GPUs are restored. */
interface RunEnd {
  state: 'finished' | 'failed';
  exitCode: number | null;
  failure?: string;
  atMs?: number;
}

/** How long a stopped job gets between SIGTERM and SIGKILL, ms. */
const STOP_GRACE_MS = 5000;

export class Run {
  readonly finished: Promise<RunSummary>;
  /** Resolves once the job is launched or attached and control has begun (advise mode known), or the run has ended. */
  readonly started: Promise<void>;
  private readonly now: () => number;
  private readonly gpus: GpuInfo[];
  private readonly jobSpec: JobSpec;
  private readonly tracker = new ProgressTracker();
  private readonly meter: RunMeter;
  private readonly controller: RunController;
  private job: JobProcess | undefined;
  private startedAtMs = 0;
  private ended: RunEnd | undefined;
  private stopRequested = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private projection: RunProjection | undefined;
  private firstProjection: RunProjection | undefined;
  private nextProjectionWallMs = 0;
  private resolveFinished: (s: RunSummary) => void = () => undefined;
  private resolveStarted: () => void = () => undefined;
  private control: GpuControl | undefined;
  /** A distributed job's coordination of this node (its reporter requests). */
  readonly coordination: NodeCoordination;
  /** The job's ranks joined: the controller steps only for the job (rank 0's node) or not at all. */
  private following = false;
  /** Until then a run expecting a distributed job does not decide alone. */
  private joinDeadlineMs = 0;

  constructor(
    readonly options: RunOptions,
    private readonly deps: RunDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    const devices = deps.backend.devices();
    this.gpus = options.gpuIndices.map((i) => {
      const d = devices.find((x) => x.index === i);
      if (!d) throw new Error(`GPU ${i} does not exist on this host (${devices.length} GPUs: ${devices.map((x) => x.index).join(', ')}).`);
      return d;
    });
    const c = options.command;
    if (c) this.jobSpec = { kind: 'launch', file: c.file, args: c.args, ...(c.cwd ? { cwd: c.cwd } : {}), env: c.env ?? runJobEnv({ inherited: process.env }) };
    else if (options.attachPid !== undefined) this.jobSpec = { kind: 'attach', pid: options.attachPid };
    else throw new Error('A run needs a command to launch or a PID to attach to.');
    this.meter = new RunMeter(deps.backend, this.gpus, deps.carbon);
    const key = this.workloadKey;
    this.controller = new RunController({
      runId: options.id,
      lease: deps.lease,
      limitRange: this.limitRange,
      carbon: deps.carbon,
      policy: { name: options.policy, budgetPct: options.budgetPct, ...(options.eta !== undefined ? { eta: options.eta } : {}), ...(options.totalUnits !== undefined ? { totalUnits: options.totalUnits } : {}) },
      ...(options.profiler ? { profiler: options.profiler } : {}),
      ...(deps.profiles && key !== undefined ? { profiles: { store: deps.profiles, gpuModel: this.gpuModel, workloadKey: key } } : {}),
      log: deps.log,
      ...(deps.onDecision ? { onDecision: deps.onDecision } : {}),
    });
    this.coordination = new NodeCoordination({
      run: this.coordinatedRun(),
      log: deps.log,
      decider: (nodes) => this.jobDecider(nodes),
      ...(deps.followed ? { followed: deps.followed } : {}),
      syncEverySteps: deps.syncEverySteps ?? DEFAULT_SYNC_EVERY_STEPS,
      now: this.now,
      // a lease period: a carbon period in wall time, or a profiling step (warm-up + window), whichever is longer
      periodWallMs: Math.max(deps.carbon.periodMs / deps.carbon.speed, (options.profiler?.warmupMs ?? DEFAULT_PROFILER.warmupMs) + (options.profiler?.windowMs ?? DEFAULT_PROFILER.windowMs)),
    });
  }

  /** GPU model of the run's (first) GPU: the profile store's key with the workload key. */
  get gpuModel(): string {
    return this.gpus[0]?.name ?? 'unknown GPU';
  }

  get workloadKey(): string | undefined {
    const c = this.options.command;
    return this.options.workloadKey ?? (c ? workloadKeyOf(c.file, c.args) : undefined);
  }

  /** Whether the profile in use was loaded from the profile store. */
  get reusedProfile(): boolean {
    return this.controller.reusedProfile;
  }

  /** Whether the run was asked to stop (rather than its job ending by itself). */
  get stopped(): boolean {
    return this.stopRequested;
  }

  /** The GPUs' raw energy counters at the first and the last sample, mJ (for cross-checks). */
  get energyCounters(): CounterSpan[] {
    return this.meter.energyCounters;
  }

  get state(): RunState {
    return this.ended?.state ?? this.controller.phase;
  }

  get summary(): RunSummary {
    const profile = this.controller.profile;
    const base = profile ? this.meter.baseline(profile) : undefined;
    const elapsedMs = (this.ended?.atMs ?? this.now()) - this.startedAtMs;
    const units = this.tracker.cumulative;
    const slowdown = profile ? slowdownPct(profile, elapsedMs, units) : undefined;
    const pid = this.job?.pid ?? this.options.attachPid;
    const limitMw = this.controller.limitMw;
    const advise = this.controller.advise;
    const error = this.ended?.failure ?? this.controller.problem;
    return {
      id: this.options.id,
      state: this.state,
      command: describeJob(this.jobSpec),
      ...(pid !== undefined ? { pid } : {}),
      gpuUuids: this.gpus.map((d) => d.uuid),
      policy: this.controller.policyName ?? this.options.policy,
      budgetPct: this.options.budgetPct,
      ...(this.tracker.format ? { progressSource: this.tracker.format } : {}),
      startedAtMs: this.startedAtMs,
      ...(this.ended?.atMs !== undefined ? { endedAtMs: this.ended.atMs } : {}),
      energyJ: this.meter.energyJ,
      carbonG: this.meter.carbonG,
      ...(base ? { baselineCarbonG: base.carbonG, baselineEnergyJ: base.energyJ, savedCarbonG: base.carbonG - this.meter.carbonG } : {}),
      ...(slowdown !== undefined ? { slowdownPct: slowdown } : {}),
      unitsDone: units,
      ...(limitMw !== undefined ? { currentLimitMw: limitMw } : {}),
      ...(advise ? { advise } : {}),
      ...(this.ended?.atMs !== undefined ? { exitCode: this.ended.exitCode } : {}),
      ...(error ? { error } : {}),
      pue: this.deps.carbon.pue,
      ...(profile ? { profileSource: this.controller.reusedProfile ? ('stored' as const) : ('measured' as const) } : {}),
      ...(this.workloadKey !== undefined ? { workloadKey: this.workloadKey } : {}),
      ...(this.projection && !this.ended ? { projection: this.projection } : {}),
      ...(this.firstProjection ? { firstProjection: this.firstProjection } : {}),
      ...(this.coordination.summary ? { distributed: this.coordination.summary } : {}),
    };
  }

  /** Launches or attaches, then runs until the job ends. Resolves with the final summary. */
  async start(): Promise<RunSummary> {
    this.startedAtMs = this.now();
    const control = await this.deps.lease.control();
    this.control = control;
    if (this.options.distributed) this.joinDeadlineMs = this.startedAtMs + this.options.distributed.joinGraceMs;
    const job = JobProcess.start(this.jobSpec, {
      output: (stream, text) => this.deps.onOutput?.(stream, text),
      line: (line) => this.observeLine(line),
      ended: (exitCode, failure) => void this.end(exitCode, failure),
    });
    this.job = job;
    if (this.ended) return this.finished;
    if (job.attached) this.deps.log.info(`run ${this.options.id}: attached to PID ${job.pid}; progress from GPU activity (progressSource gpu-proxy: energy at the maximum limit's power, not the job's own steps)`);
    try {
      await this.sample(); // first counters: the meters start from here
    } catch (e) {
      this.deps.log.warn(`run ${this.options.id}: first GPU sample failed (the meters start at the next one): ${String(e)}`);
    }
    this.controller.begin(control, this.options.profile);
    this.resolveStarted();
    const tick = this.options.sampleMs ?? this.deps.carbon.sampleMs;
    if (!this.ended) this.timer = setInterval(() => void this.tick(), tick);
    return this.finished;
  }

  /** Credits work reported by the Python reporter. */
  reportSteps(steps: number, samples: number | undefined): void {
    this.tracker.add(samples ?? steps, this.now());
    this.coordination.heartbeat();
  }

  /** Stops the job (SIGTERM, then SIGKILL after graceMs) — the run then ends as the process exits. An attached process is let go. */
  stop(graceMs = STOP_GRACE_MS): void {
    this.stopRequested = true;
    if (this.job) this.job.stop(graceMs);
    else void this.end(null);
  }

  private get limitRange(): { minLimitMw: number; maxLimitMw: number } {
    // One limit for the whole group: the range every GPU accepts.
    return { minLimitMw: Math.max(...this.gpus.map((d) => d.minLimitMw)), maxLimitMw: Math.min(...this.gpus.map((d) => d.maxLimitMw)) };
  }

  private observeLine(line: string): void {
    const sample = parseProgressLine(line);
    if (sample && this.tracker.format !== 'reporter') this.tracker.observe(sample, this.now());
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.ended) return;
    this.ticking = true;
    try {
      await this.account();
      if (!this.job?.poll()) return; // an attached process that went away ends the run (ended)
      const atMs = this.now();
      // a distributed job's limits come from its sync rounds (see the class comment)
      if (this.following || atMs < this.joinDeadlineMs) return;
      await this.controller.step({
        atMs,
        elapsedMs: atMs - this.startedAtMs,
        energyJ: this.meter.energyJ,
        unitsDone: this.tracker.cumulative,
        unitsAtMs: this.tracker.lastSeenAtMs,
        unit: this.tracker.format === 'reporter' ? 'samples' : 'steps',
      });
      if (atMs >= this.nextProjectionWallMs) await this.project(atMs);
    } catch (e) {
      this.deps.log.error(`run ${this.options.id}: tick failed`, e);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Projects the run's totals (projection.ts) once per carbon period while it is controlled with a
   * profile; the first one made is kept, to compare with the outcome.
   */
  private async project(atMs: number): Promise<void> {
    const profile = this.controller.profile;
    if (!profile || this.controller.phase !== 'controlling') return;
    const carbon = this.deps.carbon;
    this.nextProjectionWallMs = carbon.nextPeriodWallMs(atMs);
    const base = this.meter.baseline(profile);
    const p = projectRun({
      profile,
      budgetPct: this.options.budgetPct,
      nowMs: atMs,
      virtualNowMs: carbon.virtualNow(atMs),
      speed: carbon.speed,
      elapsedMs: atMs - this.startedAtMs,
      unitsDone: this.tracker.cumulative,
      energyJ: this.meter.energyJ,
      carbonG: this.meter.carbonG,
      baselineEnergyJ: base.energyJ,
      baselineCarbonG: base.carbonG,
      ...(this.options.totalUnits !== undefined ? { totalUnits: this.options.totalUnits } : {}),
      horizonHours: PROJECTION_HORIZON_H,
      forecast: await carbon.forecastFrom(atMs, PROJECTION_FORECAST_H),
      pue: carbon.pue,
    });
    if (!Number.isFinite(p.carbonG) || !Number.isFinite(p.baselineCarbonG)) return; // no forecast yet (no history)
    this.projection = p;
    this.firstProjection ??= p;
  }

  /** Reads the GPUs; an attached job without its own progress signal is credited its GPU activity. Returns the energy since the last sample, mJ. */
  private async sample(): Promise<number> {
    const deltaMj = await this.meter.sample();
    if (this.job?.attached && (this.tracker.format === undefined || this.tracker.format === 'gpu-proxy')) {
      const atMs = this.now();
      this.tracker.addProxy(this.meter.activityUnits(deltaMj, atMs, this.limitRange.maxLimitMw), atMs);
    }
    return deltaMj;
  }

  /** One sample, with its energy's carbon and the work done, credited to the period it fell in. */
  private async account(): Promise<void> {
    const deltaMj = await this.sample();
    await this.meter.account(deltaMj, this.now(), this.tracker.cumulative);
  }

  /** This node, as the distributed job's coordination sees it. */
  private coordinatedRun(): CoordinatedRun {
    const maxLimitMw = () => this.limitRange.maxLimitMw;
    return {
      runId: this.options.id,
      nodeInfo: async () => {
        const advise = this.controller.advise ?? (this.control?.state === 'advise' ? this.control.reason : undefined);
        return { gpuModel: this.gpuModel, gpuCount: this.gpus.length, ...this.limitRange, control: advise !== undefined ? 'advise' : 'permitted', ...(advise !== undefined ? { reason: advise } : {}) };
      },
      energyMj: () => joulesToMillijoules(this.meter.energyJ),
      follow: () => void (this.following = true),
      applyLimit: async (limitMw) => {
        const applied = await this.controller.applyLimit(limitMw);
        const limit = this.controller.limitMw;
        return applied ? { applied, ...(limit !== undefined ? { appliedMw: limit } : {}) } : { applied, ...(this.controller.advise ? { reason: this.controller.advise } : {}) };
      },
      holdMaximum: async () => void (await this.controller.applyLimit(maxLimitMw())),
    };
  }

  /**
   * Global rank 0's node: this run's controller decides for the whole job, one step per sync round
   * with the job's aggregates — energy summed over the nodes and work over the ranks, time the
   * slowest rank's. The profile it measures is the whole job's (J and units of all its GPUs per
   * second of the job), so the policy weighs the job's time against all its GPUs' energy: time is
   * not under-weighted by the world size (as Zeus's default ZeusCost(world_size=…) does under DDP).
   */
  private jobDecider(_nodes: JobNode[]): JobDecider {
    let last = { energyJ: 0, units: 0, elapsedMs: 0 };
    let carbonG = 0;
    /** Work done per intensity, for the max-power baseline (as the meter's buckets). */
    const work: Array<{ units: number; intensityGPerKwh: number }> = [];
    return {
      round: async (r) => {
        const intensity = await this.deps.carbon.intensityAt(r.atMs); // read once per period (RunCarbon)
        carbonG += carbonOfEnergyG(Math.max(0, r.energyJ - last.energyJ), intensity);
        work.push({ units: Math.max(0, r.unitsDone - last.units), intensityGPerKwh: intensity });
        last = { energyJ: r.energyJ, units: r.unitsDone, elapsedMs: r.elapsedMs };
        return this.controller.step({ atMs: r.atMs, elapsedMs: r.elapsedMs, energyJ: r.energyJ, unitsDone: r.unitsDone, unitsAtMs: r.atMs, unit: 'samples' });
      },
      intensityAt: (atMs) => this.deps.carbon.intensityAt(atMs),
      totals: () => {
        const profile = this.controller.profile;
        const max = profile?.maxPoint;
        const baselineCarbonG = max ? work.reduce((a, w) => a + carbonOfEnergyG((w.units / max.unitsPerS) * milliwattsToWatts(max.avgPowerMw), w.intensityGPerKwh), 0) : undefined;
        const slowdown = profile ? slowdownPct(profile, last.elapsedMs, last.units) : undefined;
        return {
          energyJ: last.energyJ,
          carbonG,
          unitsDone: last.units,
          ...(baselineCarbonG !== undefined ? { baselineCarbonG, savedCarbonG: baselineCarbonG - carbonG } : {}),
          ...(slowdown !== undefined ? { slowdownPct: slowdown } : {}),
        };
      },
    };
  }

  private async end(exitCode: number | null, failure?: string): Promise<void> {
    if (this.ended) return;
    // set at once: a job that cannot start ends the run before start() goes on
    const ended: RunEnd = { state: failure ? 'failed' : 'finished', exitCode, ...(failure ? { failure } : {}) };
    this.ended = ended;
    this.resolveStarted();
    if (this.timer) clearInterval(this.timer);
    this.coordination.close();
    try {
      await this.account();
    } catch (e) {
      this.deps.log.warn(`run ${this.options.id}: last sample failed: ${String(e)}`);
    }
    ended.atMs = this.now();
    try {
      await this.deps.lease.release();
    } catch (e) {
      this.deps.log.error(`run ${this.options.id}: restoring limits failed`, e);
    }
    this.resolveFinished(this.summary);
  }
}
