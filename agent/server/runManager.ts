/**
 * Live runs inside the agent server: starts them on the server's GPU control and carbon source,
 * claims their GPUs first (a GPU belongs to one run machine-wide: GpuLimits.claim), forwards output
 * and accounting to the client, and records each run in the history database when one is open.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuProcess, RunOutput, RunSummary, StartRunParams, StartRunResult } from '../protocol/messages';
import type { GpuControlHandle } from '../gpu/index';
import type { CarbonProvider } from '../carbon/provider';
import { Run } from '../runs/run';
import { RunCarbon } from '../runs/runCarbon';
import { ReporterServer } from '../runs/reporterServer';
import { createLogger, userMessage } from '../log';
import type { HistoryStore } from '../store/history';
import { historyProfileStore } from '../runs/profileStore';
import { processAlive } from '../process';
import { GpuError } from '../gpu/errors';
import type { GpuLease } from '../gpu/limits';

const UPDATE_EVERY_MS = 2000;

/** A run that cannot start; the message says why and what to do. */
export class RunRefusedError extends Error {}

export interface RunManagerDeps {
  gpu: () => Promise<GpuControlHandle | undefined>;
  carbon: () => CarbonProvider | undefined;
  onOutput: (o: RunOutput) => void;
  onUpdate: (s: RunSummary) => void;
  history?: () => HistoryStore | undefined;
}

export class RunManager {
  private readonly live = new Map<string, { run: Run; timer: NodeJS.Timeout; scratch: string }>();
  private reporter: ReporterServer | undefined;
  private readonly log = createLogger('runs');
  private counter = 0;

  constructor(private readonly deps: RunManagerDeps) {}

  /** How many runs are live (cheap: no summaries built). */
  get liveCount(): number {
    return this.live.size;
  }

  list(): RunSummary[] {
    return [...this.live.values()].map((l) => l.run.summary);
  }

  async start(p: StartRunParams): Promise<StartRunResult> {
    // the shape and bounds of `p` were checked against the method's schema (protocol/messages.ts)
    const attach = p.pid !== undefined;
    if (attach && !processAlive(p.pid!)) throw new RunRefusedError(`No process with PID ${p.pid} is running on this host (the agent runs where the GPUs are).`);
    if (p.cwd !== undefined && !isDirectory(p.cwd)) throw new RunRefusedError(`The working folder ${p.cwd} does not exist on the agent's machine; set "cwd" to a folder there.`);
    const gpu = await this.deps.gpu();
    if (!gpu) throw new RunRefusedError('GPU control is not available in this agent; see its log.');
    const provider = this.deps.carbon();
    if (!provider) throw new RunRefusedError('There is no working carbon source; fix chase.carbon.* first (see the status bar tooltip).');
    const visible = gpu.visibility.devices.map((d) => d.index);
    const mine = new Set(this.list().flatMap((s) => s.gpuUuids));
    const free = visible.filter((i) => !mine.has(gpu.backend.devices().find((d) => d.index === i)!.uuid));
    const wanted = p.gpus && p.gpus.length > 0 ? p.gpus : attach ? (gpusOfProcess(gpu, p.pid!) ?? free) : free;
    const unknown = wanted.filter((i) => !visible.includes(i));
    if (unknown.length > 0) throw new RunRefusedError(`GPU ${unknown.join(', ')} is not visible to this agent; visible: ${visible.join(', ') || 'none'}.`);
    const uuids = wanted.map((i) => gpu.backend.devices().find((d) => d.index === i)!.uuid);
    if (wanted.length === 0) throw new RunRefusedError('Every visible GPU is already controlled by another run.');
    const id = `run-${Date.now().toString(36)}-${++this.counter}`;
    let lease: GpuLease;
    try {
      // before anything is launched: a refused claim starts nothing
      lease = await gpu.limits.claim(uuids, { runId: id, pid: attach ? p.pid! : process.pid });
    } catch (e) {
      if (e instanceof GpuError) throw new RunRefusedError(e.message);
      throw e;
    }
    try {
      return await this.launch(id, p, gpu, provider, wanted, uuids, lease);
    } catch (e) {
      await lease.release();
      throw e;
    }
  }

  private async launch(id: string, p: StartRunParams, gpu: GpuControlHandle, provider: CarbonProvider, wanted: number[], uuids: string[], lease: GpuLease): Promise<StartRunResult> {
    const attach = p.pid !== undefined;

    if (!this.reporter) {
      const reporter = new ReporterServer((s) => this.live.get(s.runId)?.run.reportSteps(s.steps, s.samples));
      await reporter.start();
      this.reporter = reporter;
    }
    const scratch = mkdtempSync(join(tmpdir(), 'chase-run-'));
    const store = this.deps.history?.();
    const run = new Run(
      {
        id,
        ...(attach ? { attachPid: p.pid! } : { command: { file: p.command, args: p.args ?? [], ...(p.cwd ? { cwd: p.cwd } : {}), ...(p.env ? { env: p.env } : {}) } }),
        gpuIndices: wanted,
        budgetPct: p.budgetPct,
        policy: p.policy ?? 'default',
        ...(p.workload ? { workloadKey: p.workload } : {}),
        ...(p.totalUnits ? { totalUnits: p.totalUnits } : {}),
        ...(gpu.backend.simulated ? { simulatedThroughputFile: join(scratch, 'throughput.json') } : {}),
      },
      {
        backend: gpu.backend,
        lease,
        carbon: new RunCarbon(provider),
        reporter: this.reporter,
        log: this.log,
        ...(store ? { profiles: historyProfileStore(store) } : {}),
        onOutput: (stream, text) => this.deps.onOutput({ runId: id, stream, text }),
        onDecision: (d) => this.deps.history?.()?.recordDecision({ runId: id, timestampMs: d.atMs, intensityGPerKwh: d.intensityGPerKwh, powerLimitMw: d.powerLimitMw, ...(d.forecastGPerKwh !== undefined ? { forecastGPerKwh: d.forecastGPerKwh } : {}), ...(d.expectedSavingG !== undefined ? { expectedSavingG: d.expectedSavingG } : {}) }),
      },
    );
    const timer = setInterval(() => this.deps.onUpdate(run.summary), UPDATE_EVERY_MS);
    this.live.set(id, { run, timer, scratch });
    this.record('start', run.summary, provider);
    run.start().then(
      (summary) => this.finish(id, summary, provider),
      // a run whose start throws must not take the agent down (an unhandled rejection ends Node):
      // its GPUs are restored and it ends as failed
      async (e: unknown) => {
        this.log.error(`run ${id} failed`, e);
        await lease.release();
        this.finish(id, { ...run.summary, state: 'failed', error: userMessage(e, 'chase/startRun') }, provider);
      },
    );
    const advise = run.summary.advise;
    return { runId: id, gpuUuids: uuids, simulated: gpu.backend.simulated, ...(advise ? { advise } : {}) };
  }

  stop(runId: string): boolean {
    const l = this.live.get(runId);
    if (!l) return false;
    l.run.stop();
    return true;
  }

  private finish(id: string, summary: RunSummary, provider: CarbonProvider): void {
    const l = this.live.get(id);
    if (!l) return;
    clearInterval(l.timer);
    this.live.delete(id);
    rmSync(l.scratch, { recursive: true, force: true });
    this.record('finish', summary, provider);
    this.deps.onUpdate(summary);
  }

  private record(what: 'start' | 'finish', s: RunSummary, provider: CarbonProvider): void {
    const store = this.deps.history?.();
    if (!store) return;
    try {
      if (what === 'start') {
        store.startRun({ id: s.id, command: s.command, startMs: s.startedAtMs || Date.now(), gpuUuids: s.gpuUuids, policy: s.policy, budgetPct: s.budgetPct, energyJ: 0, carbonG: 0, status: 'running', zone: provider.info.zone, source: provider.info.label });
      } else {
        store.finishRun(s.id, {
          endMs: s.endedAtMs ?? Date.now(),
          status: s.state === 'failed' || (typeof s.exitCode === 'number' && s.exitCode !== 0) ? 'failed' : 'completed',
          energyJ: s.energyJ,
          carbonG: s.carbonG,
          ...(s.baselineCarbonG !== undefined ? { baselineCarbonG: s.baselineCarbonG } : {}),
          ...(s.slowdownPct !== undefined ? { slowdownPct: s.slowdownPct } : {}),
          ...(typeof s.exitCode === 'number' ? { exitCode: s.exitCode } : {}),
        });
      }
    } catch (e) {
      this.log.warn(`history: could not record run ${s.id}: ${String(e)}`);
    }
  }

  async dispose(): Promise<void> {
    for (const l of this.live.values()) l.run.stop(1000);
    await Promise.all([...this.live.values()].map((l) => l.run.finished));
    await this.reporter?.stop();
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The GPUs on which NVML lists `pid` as a compute process; undefined when the backend cannot tell. */
function gpusOfProcess(gpu: GpuControlHandle, pid: number): number[] | undefined {
  return gpuProcesses(gpu).find((p) => p.pid === pid)?.gpuIndices;
}

/** Processes the backend lists on the visible GPUs (NVML, directly or beside zeusd), with their command lines where /proc allows. */
export function gpuProcesses(gpu: GpuControlHandle): GpuProcess[] {
  const { backend } = gpu;
  if (!backend.processes) return [];
  const byPid = new Map<number, number[]>();
  for (const d of gpu.visibility.devices) for (const x of backend.processes(d.index)) byPid.set(x.pid, [...(byPid.get(x.pid) ?? []), d.index]);
  return [...byPid].map(([pid, gpuIndices]) => {
    let commandLine: string | undefined;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || undefined;
    } catch {
      /* another user's process, or not Linux */
    }
    return { pid, gpuIndices, ...(commandLine ? { commandLine } : {}) };
  });
}
