/**
 * The one place that builds runs, for both faces: the editor's agent (`chase/startRun`,
 * server/connection.ts) and `chase-agent run` (cli/run.ts). They parse and check their input, call
 * `start`/`stop`, and render what comes back; everything between is here.
 *
 * Starting a run, in order (a refusal at any step — RunRefusedError, saying why and what to do —
 * launches nothing and leaves nothing behind):
 *   1. checks: a PID to attach to is running; the working folder exists; GPU control and a carbon
 *      source work;
 *   2. its GPUs: those asked for, else (attaching) the ones NVML lists the process on, else every
 *      visible GPU no other run of this manager holds;
 *   3. its id, and the machine-wide claim on its GPUs (GpuLimits.claim: the lease);
 *   4. the job's environment (jobEnv.ts): the reporter's address and a per-run token,
 *      CUDA_VISIBLE_DEVICES, a simulated GPU's throughput file;
 *   5. its stored-profile slot, then the Run (job, meter, controller), launched or attached;
 *   6. its history rows (record.ts): started, its totals as it goes (every update), each decision,
 *      finished with its totals and status.
 * When it ends, whatever ended it: its GPUs are restored (the Run releases its lease), the reporter
 * forgets its token, the simulated feed closes, and the record is finished.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import type { CarbonProvider } from '../carbon/provider';
import { RunRefusedError } from '../errors';
import { GpuError } from '../gpu/errors';
import type { GpuControlHandle } from '../gpu/index';
import type { GpuLease } from '../gpu/limits';
import { gpusOfProcess } from '../gpu/processes';
import { userMessage, type Logger } from '../log';
import { processAlive } from '../process';
import type { RunOutput, RunSummary, StartAdviceParams, StartAdviceResult, StartRunParams, StartRunResult } from '../protocol/messages';
import { adviseStart } from './projection';
import { workloadKeyOf } from './profileStore';
import type { HistoryStore } from '../store/history';
import type { RunDecision } from './controller';
import { runJobEnv } from './jobEnv';
import type { DEFAULT_PROFILER } from './profiler';
import { historyProfileStore } from './profileStore';
import { RunRecorder } from './record';
import { ReporterServer } from './reporterServer';
import { Run } from './run';
import { RunCarbon } from './runCarbon';
import { expectedNodeRank, FollowedProvider, lateHandler, syncTimeoutMs } from './distributed';

/** What a face asks for: `chase/startRun`'s parameters (checked against its schema), and what only the CLI sets. */
export interface RunRequest extends StartRunParams {
  /** chase-paper's η. */
  eta?: number;
  /** Profiling warm-up and window per limit (defaults: profiler.ts). */
  profiler?: Partial<Pick<typeof DEFAULT_PROFILER, 'warmupMs' | 'windowMs'>>;
  /** Load and save the workload's profile in the history database (default true). */
  profileStore?: boolean;
}

/** A run that started: what `chase/startRun` answers, the run itself (for its live summary), and its end. */
export interface StartedRun extends StartRunResult {
  run: Run;
  /** The final summary, once the run ended and its record was finished. */
  finished: Promise<RunSummary>;
}

export interface RunManagerDeps {
  /** GPU control (undefined when it failed to start). */
  gpu: () => Promise<GpuControlHandle | undefined>;
  /** The carbon source in force (undefined when there is none that works). */
  carbon: () => CarbonProvider | undefined;
  /** chase.accounting.pue in force (default 1): a run keeps the one it started with. */
  pue?: () => number;
  /** The history database, opened on first use (undefined: runs are not recorded, profiles not stored). */
  history?: () => HistoryStore | undefined;
  log: Logger;
  onOutput?: (o: RunOutput) => void;
  /** Each run's summary, every `updateEveryMs` while it runs and once at its end. */
  onUpdate?: (s: RunSummary) => void;
  onDecision?: (runId: string, d: RunDecision) => void;
  /** How often a live run's summary goes to `onUpdate` and its totals to the history, ms. */
  updateEveryMs?: number;
}

interface LiveRun {
  run: Run;
  finished: Promise<RunSummary>;
}

const UPDATE_EVERY_MS = 2000;
/** How far past the advice window the forecast reaches (the run's own length), hours of the carbon clock. */
const ADVICE_FORECAST_H = 7 * 24;
/** How long each job gets to stop when the agent shuts down, ms. */
const DISPOSE_GRACE_MS = 1000;

export class RunManager {
  private readonly live = new Map<string, LiveRun>();
  private readonly recorder: RunRecorder;
  private reporter: Promise<ReporterServer> | undefined;

  constructor(private readonly deps: RunManagerDeps) {
    this.recorder = new RunRecorder(() => deps.history?.(), deps.log);
  }

  /** How many runs are live (cheap: no summaries built). */
  get liveCount(): number {
    return this.live.size;
  }

  list(): RunSummary[] {
    return [...this.live.values()].map((l) => l.run.summary);
  }

  async start(r: RunRequest): Promise<StartedRun> {
    if (r.pid !== undefined && !processAlive(r.pid)) throw new RunRefusedError(`No process with PID ${r.pid} is running on this host (the agent runs where the GPUs are).`);
    if (r.cwd !== undefined && !isDirectory(r.cwd)) throw new RunRefusedError(`The working folder ${r.cwd} does not exist on the agent's machine; set "cwd" to a folder there.`);
    const gpu = await this.deps.gpu();
    if (!gpu) throw new RunRefusedError('GPU control is not available in this agent; see its log.');
    const provider = this.deps.carbon();
    if (!provider) throw new RunRefusedError('There is no working carbon source; fix chase.carbon.* first (see the status bar tooltip).');
    const gpuIndices = this.chooseGpus(gpu, r);
    const uuids = gpuIndices.map((i) => uuidOf(gpu, i));
    const id = newRunId();
    let lease: GpuLease;
    try {
      // before anything is launched: a refused claim starts nothing
      lease = await gpu.limits.claim(uuids, { runId: id, pid: r.pid ?? process.pid });
    } catch (e) {
      if (e instanceof GpuError) throw new RunRefusedError(e.message);
      throw e;
    }
    try {
      return await this.launch(id, r, gpu, provider, gpuIndices, lease);
    } catch (e) {
      await lease.release();
      throw e;
    }
  }

  /**
   * Start-time advice for a run not started yet (never acted on here): its length from the stored
   * profile of its workload on its GPUs' model and its declared total work; the carbon of starting
   * now against each later period within the window, from the forecast.
   */
  async adviseStart(r: StartAdviceParams): Promise<StartAdviceResult> {
    if (r.totalUnits === undefined) return { unavailable: 'the task declares no total work ("totalUnits"), so the run\'s length is unknown' };
    const gpu = await this.deps.gpu();
    const provider = this.deps.carbon();
    if (!gpu || !provider) return { unavailable: 'GPU control or the carbon source is not available' };
    const index = r.gpus?.[0] ?? gpu.visibility.devices[0]?.index;
    const model = gpu.backend.devices().find((d) => d.index === index)?.name;
    const key = r.workload ?? workloadKeyOf(r.command, r.args);
    const store = this.deps.history?.();
    const profile = model && store ? historyProfileStore(store).load(model, key) : undefined;
    if (!model || !profile) return { unavailable: `no stored power profile of ${key}${model ? ` on ${model}` : ''} yet: its first run measures it` };
    const carbon = new RunCarbon(provider, this.deps.pue?.());
    const nowMs = Date.now();
    const a = adviseStart({
      profile,
      budgetPct: r.budgetPct,
      nowMs,
      virtualNowMs: carbon.virtualNow(nowMs),
      speed: carbon.speed,
      totalUnits: r.totalUnits,
      horizonHours: 24,
      windowHours: r.windowHours,
      pue: carbon.pue,
      forecast: await carbon.forecastFrom(nowMs, r.windowHours + ADVICE_FORECAST_H),
    });
    return {
      basis: `the stored profile of ${key} on ${model} and the task's totalUnits (${r.totalUnits})`,
      advice: { nowCarbonG: a.now.carbonG, bestCarbonG: a.best.carbonG, cutPct: a.cutPct, startAtMs: a.bestStartAtMs, startAtCarbonMs: carbon.virtualNow(a.bestStartAtMs) },
    };
  }

  /** Stops a live run's job (an attached process is let go); false when there is no such run. */
  stop(runId: string, graceMs?: number): boolean {
    const l = this.live.get(runId);
    if (!l) return false;
    l.run.stop(graceMs);
    return true;
  }

  /** Stops every live run, waits until each is restored and recorded, and closes the reporter. */
  async dispose(): Promise<void> {
    for (const l of this.live.values()) l.run.stop(DISPOSE_GRACE_MS);
    await Promise.all([...this.live.values()].map((l) => l.finished));
    const reporter = this.reporter;
    this.reporter = undefined;
    if (reporter) await (await reporter).stop();
  }

  private chooseGpus(gpu: GpuControlHandle, r: RunRequest): number[] {
    const visible = gpu.visibility.devices.map((d) => d.index);
    const held = new Set(this.list().flatMap((s) => s.gpuUuids));
    const free = visible.filter((i) => !held.has(uuidOf(gpu, i)));
    const wanted = r.gpus && r.gpus.length > 0 ? r.gpus : r.pid !== undefined ? (gpusOfProcess(gpu, r.pid) ?? free) : free;
    const unknown = wanted.filter((i) => !visible.includes(i));
    if (unknown.length > 0) throw new RunRefusedError(`GPU ${unknown.join(', ')} is not visible to this agent; visible: ${visible.join(', ') || 'none'}.`);
    if (wanted.length === 0) throw new RunRefusedError('Every visible GPU is already controlled by another run.');
    return wanted;
  }

  /** One reporter socket for all the runs of this manager, started with the first (again after a failed start). */
  private reporterServer(): Promise<ReporterServer> {
    this.reporter ??= (async () => {
      const reporter = new ReporterServer((s) => this.live.get(s.runId)?.run.reportSteps(s.steps, s.samples));
      await reporter.start();
      return reporter;
    })().catch((e: unknown) => {
      this.reporter = undefined;
      throw e;
    });
    return this.reporter;
  }

  private async launch(id: string, r: RunRequest, gpu: GpuControlHandle, provider: CarbonProvider, gpuIndices: number[], lease: GpuLease): Promise<StartedRun> {
    const { backend } = gpu;
    // only a job launched here gets the reporter's token and a simulated speed (an attached one has its environment)
    const launching = r.pid === undefined;
    const reporter = launching ? await this.reporterServer() : undefined;
    const feed = launching ? backend.simulatedJob?.(gpuIndices) : undefined;
    // one node's part of a distributed job (its rendezvous variables): it waits for its ranks to join,
    // and a node other than rank 0's takes its intensity from rank 0's decisions (distributed.ts)
    const asked = { ...process.env, ...r.env };
    const nodeRank = launching ? expectedNodeRank(asked) : undefined;
    const joinGraceMs = syncTimeoutMs(asked);
    const followed = nodeRank !== undefined && nodeRank > 0 ? new FollowedProvider(provider, joinGraceMs) : undefined;
    const forget = (): void => {
      reporter?.unregister(id);
      feed?.close();
    };
    let run: Run;
    // the job's requests reach the run once it exists (the job is launched only after that)
    const built: { run?: Run } = {};
    try {
      const handler = lateHandler(() => built.run?.coordination.handler());
      const added = { ...reporter?.register(id, { pythonPath: asked.PYTHONPATH, handler }), ...feed?.env, ...(backend.simulated ? {} : { CUDA_VISIBLE_DEVICES: gpuIndices.map((i) => uuidOf(gpu, i)).join(',') }) };
      const store = r.profileStore === false ? undefined : this.deps.history?.();
      run = new Run(
        {
          id,
          ...(r.pid !== undefined ? { attachPid: r.pid } : { command: { file: r.command, args: r.args, ...(r.cwd ? { cwd: r.cwd } : {}), env: runJobEnv({ inherited: process.env, ...(r.env ? { requested: r.env } : {}), added }) } }),
          gpuIndices,
          budgetPct: r.budgetPct,
          policy: r.policy ?? 'default',
          ...(r.eta !== undefined ? { eta: r.eta } : {}),
          ...(r.totalUnits !== undefined ? { totalUnits: r.totalUnits } : {}),
          ...(r.workload !== undefined ? { workloadKey: r.workload } : {}),
          ...profilerOf(r),
          ...(nodeRank !== undefined ? { distributed: { joinGraceMs } } : {}),
        },
        {
          backend,
          lease,
          carbon: new RunCarbon(followed ?? provider, this.deps.pue?.()),
          ...(followed ? { followed } : {}),
          log: this.deps.log,
          ...(store ? { profiles: historyProfileStore(store) } : {}),
          onOutput: (stream, text) => this.deps.onOutput?.({ runId: id, stream, text }),
          onDecision: (d) => {
            this.recorder.decided(id, d);
            this.deps.onDecision?.(id, d);
          },
        },
      );
    } catch (e) {
      forget();
      throw e;
    }
    built.run = run;
    // A run whose start throws must not take the agent down (an unhandled rejection ends Node): its
    // GPUs are restored and it ends as failed.
    const outcome = run.start().catch(async (e: unknown): Promise<RunSummary> => {
      this.deps.log.error(`run ${id} failed`, e);
      await lease.release();
      return { ...run.summary, state: 'failed', error: userMessage(e, 'chase/startRun') };
    });
    // recorded as started once launched (or failed to be), and always before it is recorded as finished
    const recorded = Promise.race([run.started, outcome]).then(() => this.recorder.started(run.summary, provider));
    const timer = setInterval(() => {
      const summary = run.summary;
      this.recorder.progressed(summary);
      this.deps.onUpdate?.(summary);
    }, this.deps.updateEveryMs ?? UPDATE_EVERY_MS);
    const finished = Promise.all([outcome, recorded]).then(([summary]) => {
      clearInterval(timer);
      this.live.delete(id);
      forget();
      this.recorder.finished(summary, run.stopped);
      this.deps.onUpdate?.(summary);
      return summary;
    });
    this.live.set(id, { run, finished });
    await recorded;
    const advise = run.summary.advise;
    return { runId: id, gpuUuids: run.summary.gpuUuids, simulated: backend.simulated, ...(advise ? { advise } : {}), run, finished };
  }
}

/** The profiling windows asked for: the CLI's, else the task's `profiling` (seconds). */
function profilerOf(r: RunRequest): { profiler?: RunRequest['profiler'] } {
  if (r.profiler) return { profiler: r.profiler };
  const p = r.profiling;
  if (!p) return {};
  return { profiler: { ...(p.warmupS !== undefined ? { warmupMs: p.warmupS * 1000 } : {}), ...(p.windowS !== undefined ? { windowMs: p.windowS * 1000 } : {}) } };
}

/** `run-` and base-36 time and randomness: unique across the agents and CLIs of a machine, and a single word. */
function newRunId(): string {
  return `run-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

function uuidOf(gpu: GpuControlHandle, index: number): string {
  const d = gpu.backend.devices().find((x) => x.index === index);
  if (!d) throw new RunRefusedError(`GPU ${index} does not exist on this host.`);
  return d.uuid;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
