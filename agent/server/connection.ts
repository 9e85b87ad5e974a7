/**
 * Wires the JSON-RPC connection to the agent's logic: the carbon source, runs, telemetry and the
 * GPU energy timeline are classes tested without a connection (CarbonMonitor, RunManager, Telemetry,
 * EnergyTimeline). Some logic is still here, tested only through the built agent
 * (test/contract/agent.test.ts, export.test.ts): the history database opening on first use and
 * which reader answers history requests (`withHistory`), the export's folder check, and how
 * `chase/energyBetween` and `chase/gpus` assemble their answers (`intensityLookup`, `gpuStatus`).
 * Custom methods only; the agent declares no LSP capabilities, so the editor sends it no documents.
 */
import { createConnection, type Connection, type InitializeParams } from 'vscode-languageserver/node';
import { Methods, type AgentInfo, type AgentInitializationOptions, type AgentSettings, type CarbonStatus, type Configured, type IntensitySeriesResult } from '../protocol/messages';
import { CarbonMonitor } from './carbonMonitor';
import { validateSettings } from '../protocol/settings';
import { onRequest } from './rpc';
import { CarbonSourceError } from '../carbon/provider';
import { ExportError, GpuUnavailableError, HistoryUnavailableError, UnknownRunError } from '../errors';
import { agentVersion } from '../version';
import { createLogger, describeError, isInternalError } from '../log';
import { startGpuControl, type GpuControlHandle } from '../gpu/index';
import type { GpuStatus, GpusResult, RunSummary, StartRunResult } from '../protocol/messages';
import { RunManager } from '../runs/manager';
import { openRunHistory } from '../runs/record';
import { gpuProcesses } from '../gpu/processes';
import { EnergyTimeline } from './energyTimeline';
import { RunCarbon } from '../runs/runCarbon';
import type { EnergyBetweenResult, GpuProcess } from '../protocol/messages';
import { Telemetry } from './telemetry';
import { HistoryReader, HistoryStore } from '../store/history';
import { writeRunExport } from '../store/export';
import type { RunRecord } from '../store/types';
import type { ExportRunResult, RecentRun, RecentRunsResult } from '../protocol/messages';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultHistoryPath } from '../store/paths';
import { notifySafely } from './notify';

const log = createLogger('agent');

let processGpuControl: Promise<GpuControlHandle | undefined> | undefined;

/**
 * GPU control starts first: it restores any limit a killed agent left behind before anything else.
 * Once per process: the editor's server, the limits service and the process's metrics sampler share
 * it (one guard, one set of claims). The first caller's environment counts (the limits service
 * passes one without CHASE_AGENT_SOCKET: it sets limits itself).
 */
export function startGpuControlForServer(env: NodeJS.ProcessEnv = process.env): Promise<GpuControlHandle | undefined> {
  processGpuControl ??= startGpuControl({ log: createLogger('gpu'), env }).catch((e: unknown) => {
    log.error('GPU control could not start', e);
    return undefined;
  });
  return processGpuControl;
}

/** The editor's agent: one client (the extension, over stdio or IPC), running as the user. */
export function startServer(connection: Connection = createConnection()): void {
  const startedAtMs = Date.now();
  const gpuControl = startGpuControlForServer();
  // The history database opens on first use (a run, a reading while a run is live), not for an idle editor.
  let history: HistoryStore | undefined;
  let historyOpened = false;
  const historyStore = (): HistoryStore | undefined => {
    if (!historyOpened) {
      historyOpened = true;
      history = openRunHistory(defaultHistoryPath(), log); // the agent works without it (e.g. a second agent on the same file)
    }
    return history;
  };
  let liveRuns = (): number => 0;
  // GPU energy over time, for after-the-fact questions (notebook cells): from the telemetry's one
  // 1 Hz sampler, which therefore always runs; the last 24 h in memory.
  const timeline = new EnergyTimeline();
  const telemetry = new Telemetry({
    gpu: () => gpuControl,
    history: historyStore,
    liveRuns: () => liveRuns(),
    log: createLogger('telemetry'),
    onGpuSamples: (samples) => timeline.record(samples),
    ownsShared: true, // the only client: its shutdown ends the process's sampler and endpoint
  });
  void telemetry.start();
  const monitor = new CarbonMonitor({
    now: () => Date.now(),
    onStatus: (status) => {
      telemetry.onCarbonStatus(status);
      notifySafely(connection, Methods.carbonStatusChanged, status);
    },
    setTimer: (cb, ms) => {
      const t = setTimeout(cb, ms);
      return { dispose: () => clearTimeout(t) };
    },
  });

  let initialSettings: AgentSettings | undefined;
  connection.onInitialize(async (params: InitializeParams) => {
    await gpuControl;
    const options = params.initializationOptions as AgentInitializationOptions | undefined;
    initialSettings = options?.settings;
    log.info(`chase-agent ${agentVersion} (pid ${process.pid}, node ${process.version}) initializing`);
    return { capabilities: {}, serverInfo: { name: 'chase-agent', version: agentVersion } };
  });
  connection.onInitialized(() => {
    const checked = validateSettings(initialSettings);
    if (typeof checked === 'string') {
      log.error(checked);
      monitor.reject(checked);
      return;
    }
    void monitor.configure(checked);
    void telemetry.configure(checked.metrics);
  });

  onRequest(connection, Methods.agentInfo, (): AgentInfo => ({
    version: agentVersion,
    pid: process.pid,
    nodeVersion: process.version,
    startedAtMs,
    ...(telemetry.url ? { metricsUrl: telemetry.url } : {}),
    ...(telemetry.notes.length > 0 ? { notes: telemetry.notes } : {}),
  }));
  onRequest(connection, Methods.carbonStatus, (): CarbonStatus => monitor.status);
  onRequest(connection, Methods.configure, async (settings): Promise<Configured> => {
    await telemetry.configure(settings.metrics);
    return { status: await monitor.configure(settings) };
  });
  onRequest(connection, Methods.intensitySeries, async (params): Promise<IntensitySeriesResult> => {
    try {
      return await monitor.series(params);
    } catch (e) {
      throw e instanceof CarbonSourceError || isInternalError(e) ? e : new CarbonSourceError(describeError(e), 'unavailable');
    }
  });

  const runs = new RunManager({
    gpu: () => gpuControl,
    carbon: () => monitor.currentProvider,
    onOutput: (o) => notifySafely(connection, Methods.runOutput, o),
    onUpdate: (s) => {
      telemetry.onRunUpdate(s);
      notifySafely(connection, Methods.runUpdated, s);
    },
    history: historyStore,
    log: createLogger('runs'),
  });
  liveRuns = () => runs.liveCount;
  onRequest(connection, Methods.startRun, async (params): Promise<StartRunResult> => {
    const { runId, gpuUuids, simulated, advise } = await runs.start(params);
    telemetry.runStarted();
    return { runId, gpuUuids, simulated, ...(advise ? { advise } : {}) };
  });
  onRequest(connection, Methods.stopRun, ({ runId }): void => {
    if (!runs.stop(runId)) throw new UnknownRunError(`No live run "${runId}" (chase/runs lists the live ones).`);
  });
  onRequest(connection, Methods.runs, (): RunSummary[] => runs.list());

  /** Reads through the agent's own store when open, else a read-only reader on the same file. */
  const withHistory = <T>(fn: (reader: HistoryReader) => T): T => {
    if (process.env.CHASE_HISTORY === 'off') throw new HistoryUnavailableError('Run history is off in this agent (CHASE_HISTORY=off); start it without that variable to record runs.');
    const store = historyOpened ? history : undefined;
    const reader = store ?? HistoryReader.open({ path: defaultHistoryPath() });
    try {
      return fn(reader);
    } finally {
      if (reader !== store) reader.close();
    }
  };
  onRequest(connection, Methods.recentRuns, ({ limit = 50 }): RecentRunsResult => withHistory((reader) => ({ runs: reader.listRuns({ limit }).map(recentRun), dbPath: reader.path })));
  onRequest(connection, Methods.exportRun, ({ runId, format, outFile, overwrite = false }): ExportRunResult => {
    // from the agent's own store when it has one open (no second connection to the same file);
    // what it still has queued (samples, readings, decisions) goes in first
    return withHistory((reader) => {
      if (reader instanceof HistoryStore) reader.flush();
      if (!reader.getRun(runId)) throw new UnknownRunError(`No run "${runId}" in the history at ${reader.path} (chase/recentRuns lists them).`);
      if (!existsSync(resolve(outFile, '..'))) throw new ExportError(`The folder of ${outFile} does not exist; choose another file.`);
      return { outFile, ...writeRunExport(reader, { runId, format, outFile, overwrite }) };
    });
  });

  onRequest(connection, Methods.energyBetween, async (p): Promise<EnergyBetweenResult> => {
    const g = await gpuControl;
    if (!g) throw new GpuUnavailableError('GPU control failed to start; see the agent log.');
    // intensities only for the part the samples cover (at most a day): the source is never asked for more
    const covered = timeline.covered(p.fromMs, p.toMs);
    const intensityAt = covered ? await intensityLookup(monitor, covered.fromMs, covered.toMs) : () => undefined;
    return { ...timeline.query(p.fromMs, p.toMs, intensityAt), gpuCount: timeline.gpuCount || g.visibility.devices.length, simulated: g.backend.simulated };
  });

  onRequest(connection, Methods.gpuProcesses, async (): Promise<GpuProcess[]> => {
    const g = await gpuControl;
    return g ? gpuProcesses(g) : [];
  });

  onRequest(connection, Methods.gpus, async (): Promise<GpusResult> => {
    const gpu = await gpuControl;
    if (!gpu) return { gpus: [], notes: ['GPU control failed to start; see the agent log.'] };
    return { gpus: await Promise.all(gpu.visibility.devices.map((d) => gpuStatus(gpu, d.index))), notes: gpu.notes };
  });

  connection.onShutdown(async () => {
    log.info('shutdown requested');
    await runs.dispose();
    await telemetry.dispose();
    history?.close();
    monitor.dispose();
    await (await gpuControl)?.stop();
  });
  connection.onExit(() => {
    monitor.dispose();
    void telemetry.dispose();
  });
  connection.listen();
}

function recentRun(r: RunRecord): RecentRun {
  return {
    id: r.id,
    command: r.command,
    startedAtMs: r.startMs,
    ...(r.endMs !== undefined ? { endedAtMs: r.endMs } : {}),
    status: r.status,
    energyJ: r.energyJ,
    carbonG: r.carbonG,
    ...(r.baselineCarbonG !== undefined ? { savedCarbonG: r.baselineCarbonG - r.carbonG } : {}),
    ...(r.zone !== undefined ? { zone: r.zone } : {}),
  };
}

async function gpuStatus(gpu: GpuControlHandle, index: number): Promise<GpuStatus> {
  const d = gpu.backend.devices().find((x) => x.index === index)!;
  const [reading, control] = await Promise.all([gpu.backend.read(index), gpu.limits.control(index)]);
  return {
    index,
    uuid: d.uuid,
    name: d.name,
    backend: gpu.backend.kind,
    simulated: gpu.backend.simulated,
    powerLimitMw: reading.powerLimitMw,
    defaultLimitMw: d.defaultLimitMw,
    minLimitMw: d.minLimitMw,
    maxLimitMw: d.maxLimitMw,
    powerMw: reading.powerMw,
    ...(reading.energyMj !== undefined ? { energyMj: reading.energyMj } : {}),
    control: control.state,
    ...(control.state === 'advise' ? { reason: control.reason } : {}),
  };
}

/** Intensity by wall time over an interval: the source's history (in its own clock), else the current reading. */
async function intensityLookup(monitor: CarbonMonitor, fromMs: number, toMs: number): Promise<(t: number) => number | undefined> {
  const provider = monitor.currentProvider;
  const current = monitor.status.state === 'ok' ? monitor.status.intensityGPerKwh : undefined;
  if (!provider) return () => current;
  const clock = new RunCarbon(provider);
  const points = await provider.history(clock.periodStart(clock.virtualNow(fromMs)), clock.virtualNow(toMs) + clock.periodMs).catch(() => []);
  const byPeriod = new Map(points.map((x) => [x.timestampMs, x.intensityGPerKwh]));
  return (t) => byPeriod.get(clock.periodStart(clock.virtualNow(t))) ?? current;
}
