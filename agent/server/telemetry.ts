/**
 * What the agent remembers and exposes while it runs.
 *
 * Per agent process (`AgentTelemetry`, `processTelemetry()`): the one GPU sampler (a 1 Hz loop whose
 * energy meter must stay monotone for the history and the energy counter) and the Prometheus
 * endpoint with its registry: one /metrics per process, which `serve --metrics HOST:PORT` serves
 * with no editor attached at all (also the limits service's, `serve --socket`: GPUs only).
 *
 * Per connection (`Telemetry`): what one client's session adds — its carbon status (the intensity
 * gauge), its runs' counters, and its history: intensity readings and the 1 Hz GPU samples, only
 * while one of its runs is live, so an idle editor writes nothing. The notebook energy timeline
 * gets every sample whether or not metrics serve or a run is live.
 *
 * Endpoint states: off ⇄ serving(host, port), driven by the client's `chase.metrics.*` — or pinned by
 * `serve --metrics HOST:PORT` / CHASE_METRICS, and always pinned in a socket service (to "off" without
 * --metrics): there the clients' `chase.metrics.*` are ignored with a note, since which port a shared
 * (root) service opens is the administrator's choice, not any connecting user's.
 */
import type { CarbonStatus, MetricsSettings, RunSummary } from '../protocol/messages';
import type { GpuControlHandle } from '../gpu/index';
import type { GpuInfo } from '../gpu/backend';
import { GpuSampler, type GpuSample } from '../gpu/sampler';
import type { Logger } from '../log';
import { createLogger, describeError } from '../log';
import type { HistoryStore } from '../store/history';
import { ChaseMetrics, MetricsServer } from './metrics';
import { intensityRecord, metricsGpus, metricsIntensity, sampleRecords } from './adapters';

export const SAMPLE_PERIOD_MS = 1000;
/** A finished run's counters stay this long (a few scrapes) before their series are dropped. */
export const FORGET_RUN_AFTER_MS = 5 * 60_000;

/** Where the endpoint listens. */
export type MetricsEndpoint = Pick<MetricsSettings, 'host' | 'port'>;

type GpuSource = () => Promise<GpuControlHandle | undefined>;

/**
 * `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (127.0.0.1: this machine only) from `serve --metrics` or
 * CHASE_METRICS; throws one line naming `from` and the fix.
 */
export function parseMetricsEndpoint(raw: string, from: string): MetricsEndpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s/:[\]]*)):(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new Error(`${from} must be HOST:PORT, e.g. 0.0.0.0:9477 (all interfaces), 127.0.0.1:9477 or :9477 (this machine only), got "${raw}"`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** The agent process's sampler and metrics endpoint (see the module comment). */
export class AgentTelemetry {
  readonly metrics = new ChaseMetrics();
  /** The endpoint's URL while it serves. */
  url: string | undefined;
  private server: MetricsServer | undefined;
  private serving: MetricsEndpoint | undefined;
  private wanted: MetricsEndpoint | undefined;
  private pinned = false;
  private chain: Promise<void> = Promise.resolve();
  private endpointNote: string | undefined;
  private clientNote: string | undefined;
  private gpu: GpuSource | undefined;
  private samplerPromise: Promise<GpuSampler | undefined> | undefined;
  private sampler: GpuSampler | undefined;
  private readonly listeners = new Set<(samples: GpuSample[]) => void>();
  private disposed = false;
  /** The GPUs sampled (names and indices for the history and the metrics' modelName). */
  devices: readonly GpuInfo[] = [];

  constructor(private readonly log: Logger = createLogger('telemetry')) {}

  /** What the user should know (e.g. the port was taken), for `chase/agentInfo`. */
  get notes(): string[] {
    return [this.endpointNote, this.clientNote].filter((n): n is string => n !== undefined);
  }

  /**
   * The endpoint from the command line (`serve --metrics`), or none (`undefined`, a socket service
   * without --metrics); clients' settings do not move it from then on. Starts the sampler with it.
   */
  pin(endpoint: MetricsEndpoint | undefined, gpu: GpuSource): Promise<void> {
    this.pinned = true;
    this.wanted = endpoint;
    if (endpoint) void this.start(gpu);
    return this.queue();
  }

  /** A client's `chase.metrics.*`: starts, stops or moves the endpoint, unless pinned. Never throws. */
  configure(m: MetricsSettings | undefined): Promise<void> {
    if (this.pinned) {
      this.clientNote = m?.enabled
        ? `chase.metrics.* is ignored: this agent's metrics endpoint is set where it was started (chase-agent serve --metrics HOST:PORT or CHASE_METRICS)${this.url ? `; it serves ${this.url}` : ', and it has none'}.`
        : undefined;
      return this.chain;
    }
    this.wanted = m?.enabled ? { host: m.host, port: m.port } : undefined;
    return this.queue();
  }

  private queue(): Promise<void> {
    this.chain = this.chain.then(() => this.apply()).catch((e: unknown) => this.log.error('metrics endpoint', e));
    return this.chain;
  }

  private async apply(): Promise<void> {
    const want = this.disposed ? undefined : this.wanted;
    if (this.server && want?.host === this.serving?.host && want?.port === this.serving?.port) return;
    if (this.server) {
      await this.server.close();
      this.log.info(`metrics endpoint ${this.url ?? ''} stopped`);
      this.server = undefined;
      this.serving = undefined;
      this.url = undefined;
    }
    this.endpointNote = undefined;
    if (!want) return;
    const server = new MetricsServer(this.metrics);
    const setting = this.pinned ? '--metrics HOST:PORT' : 'chase.metrics.host and chase.metrics.port';
    try {
      const where = await server.start({ host: want.host, port: want.port });
      this.server = server;
      this.serving = want;
      this.url = where.url;
      this.log.info(`metrics endpoint serving ${where.url} (${this.pinned ? '--metrics' : 'chase.metrics.enabled'})`);
    } catch (e) {
      await server.close().catch(() => undefined);
      const code = (e as { code?: string }).code;
      this.endpointNote =
        code === 'EADDRINUSE'
          ? `Metrics are off: port ${want.port} on ${want.host} is in use by another program; ${this.pinned ? 'give --metrics a free port' : 'set chase.metrics.port to a free port'}.`
          : `Metrics are off: cannot listen on ${want.host}:${want.port} (${describeError(e)}); check ${setting}.`;
      this.log.warn(this.endpointNote);
    }
  }

  /** Each sampler tick goes to every connection that subscribed; returns the unsubscribe. */
  subscribe(onSamples: (samples: GpuSample[]) => void): () => void {
    this.listeners.add(onSamples);
    return () => this.listeners.delete(onSamples);
  }

  private onSample(samples: GpuSample[]): void {
    if (this.server) this.metrics.update({ gpus: metricsGpus(samples, this.devices) });
    for (const l of this.listeners) l(samples);
  }

  private getSampler(gpu: GpuSource): Promise<GpuSampler | undefined> {
    this.gpu ??= gpu;
    this.samplerPromise ??= this.gpu().then((g) => {
      if (!g) return undefined;
      this.devices = g.visibility.devices;
      this.sampler = new GpuSampler(g.backend, g.visibility.devices, { periodMs: SAMPLE_PERIOD_MS, log: this.log, onSample: (s) => this.onSample(s) });
      return this.sampler;
    });
    return this.samplerPromise;
  }

  /** Starts the 1 Hz sampler once GPU control is up (once per process); the first scrape sees the GPUs at once. */
  async start(gpu: GpuSource): Promise<void> {
    const sampler = await this.getSampler(gpu);
    if (!sampler || this.disposed) return;
    sampler.start();
    void sampler.sampleOnce().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.queue();
    this.sampler?.stop();
  }
}

let processWide: AgentTelemetry | undefined;

/** The one AgentTelemetry of this agent process. */
export function processTelemetry(): AgentTelemetry {
  processWide ??= new AgentTelemetry();
  return processWide;
}

export interface TelemetryDeps {
  gpu: GpuSource;
  /** The history store, opened lazily by the caller; undefined when history is off or failed. */
  history: () => HistoryStore | undefined;
  /** How many runs are live now. */
  liveRuns: () => number;
  log: Logger;
  /** Every sampler tick's samples, for other consumers of the same reading (the energy timeline). */
  onGpuSamples?: (samples: GpuSample[]) => void;
  /** The process's telemetry; default processTelemetry(). */
  shared?: AgentTelemetry;
  /** True when this connection is the process's only client (stdio / IPC): its dispose stops the shared part too. */
  ownsShared?: boolean;
}

/** One connection's part (see the module comment). */
export class Telemetry {
  private readonly shared: AgentTelemetry;
  private readonly unsubscribe: () => void;
  private lastStatus: CarbonStatus | undefined;
  private readonly forgetTimers = new Map<string, NodeJS.Timeout>();
  private registeredIn: HistoryStore | undefined;

  constructor(private readonly deps: TelemetryDeps) {
    this.shared = deps.shared ?? processTelemetry();
    this.unsubscribe = this.shared.subscribe((s) => this.onSample(s));
  }

  get metrics(): ChaseMetrics {
    return this.shared.metrics;
  }

  /** The endpoint's URL while it serves. */
  get url(): string | undefined {
    return this.shared.url;
  }

  get notes(): string[] {
    return this.shared.notes;
  }

  /** Applies `chase.metrics.*`. Never throws. */
  configure(m: MetricsSettings | undefined): Promise<void> {
    return this.shared.configure(m);
  }

  /** Each carbon status change: the intensity gauge, and a history reading while a run is live. */
  onCarbonStatus(status: CarbonStatus): void {
    this.lastStatus = status;
    const intensity = metricsIntensity(status);
    if (intensity) this.metrics.update({ intensity });
    if (this.deps.liveRuns() > 0) this.recordIntensity(status);
  }

  private recordIntensity(status: CarbonStatus): void {
    const r = intensityRecord(status);
    if (!r) return;
    try {
      this.deps.history()?.recordIntensity(r);
    } catch (e) {
      this.deps.log.warn(`history: could not record an intensity reading: ${describeError(e)}`);
    }
  }

  /** A run started: record the current reading (the run's context). */
  runStarted(): void {
    if (this.lastStatus) this.recordIntensity(this.lastStatus);
  }

  /** Every runUpdated: run totals for the counters; a finished run's series go after a while. */
  onRunUpdate(s: RunSummary): void {
    this.metrics.update({ runs: [{ runId: s.id, emissionsG: s.carbonG, ...(s.savedCarbonG !== undefined ? { savedG: s.savedCarbonG } : {}) }] });
    if (s.state === 'finished' || s.state === 'failed') {
      if (!this.forgetTimers.has(s.id)) {
        const t = setTimeout(() => {
          this.forgetTimers.delete(s.id);
          this.metrics.forgetRun(s.id);
        }, FORGET_RUN_AFTER_MS);
        t.unref();
        this.forgetTimers.set(s.id, t);
      }
    }
  }

  private onSample(samples: GpuSample[]): void {
    this.deps.onGpuSamples?.(samples);
    if (this.deps.liveRuns() > 0 && samples.length > 0) {
      try {
        const store = this.deps.history();
        if (store && this.registeredIn !== store) {
          // names and indices, so exports can say which GPU model a run used
          for (const d of this.shared.devices) store.registerGpu({ uuid: d.uuid, name: d.name, index: d.index });
          this.registeredIn = store;
        }
        store?.addSamples(sampleRecords(samples));
      } catch (e) {
        this.deps.log.warn(`history: could not record GPU samples: ${describeError(e)}`);
      }
    }
  }

  /** Starts the process's sampler (once GPU control is up). */
  start(): Promise<void> {
    return this.shared.start(this.deps.gpu);
  }

  async dispose(): Promise<void> {
    for (const t of this.forgetTimers.values()) clearTimeout(t);
    this.forgetTimers.clear();
    this.unsubscribe();
    if (this.deps.ownsShared) await this.shared.dispose();
  }
}
