/**
 * What the agent remembers and exposes while it runs: the Prometheus endpoint (only when
 * `chase.metrics.enabled`) and the history database's intensity readings and 1 Hz GPU samples (only
 * while at least one run is live, so an idle editor writes nothing).
 *
 * One GpuSampler for the agent's life (its energy meter must stay monotone for the history and the
 * energy counter), ticking from `start()` to `dispose()`: the notebook energy timeline needs its
 * samples whether or not metrics serve or a run is live.
 */
import type { CarbonStatus, MetricsSettings, RunSummary } from '../protocol/messages';
import type { GpuControlHandle } from '../gpu/index';
import type { GpuInfo } from '../gpu/backend';
import { GpuSampler, type GpuSample } from '../gpu/sampler';
import type { Logger } from '../log';
import { describeError } from '../log';
import type { HistoryStore } from '../store/history';
import { ChaseMetrics, MetricsServer } from '../store/metrics';
import { intensityRecord, metricsGpus, metricsIntensity, sampleRecords } from '../store/adapters';

export const SAMPLE_PERIOD_MS = 1000;
/** A finished run's counters stay this long (a few scrapes) before their series are dropped. */
export const FORGET_RUN_AFTER_MS = 5 * 60_000;

export interface TelemetryDeps {
  gpu: () => Promise<GpuControlHandle | undefined>;
  /** The history store, opened lazily by the caller; undefined when history is off or failed. */
  history: () => HistoryStore | undefined;
  /** How many runs are live now. */
  liveRuns: () => number;
  log: Logger;
  /** Every sampler tick's samples, for other consumers of the same reading (the energy timeline). */
  onGpuSamples?: (samples: GpuSample[]) => void;
}

export class Telemetry {
  readonly metrics = new ChaseMetrics();
  private server: MetricsServer | undefined;
  private serving: MetricsSettings | undefined;
  private wanted: MetricsSettings | undefined;
  private chain: Promise<void> = Promise.resolve();
  private sampler: GpuSampler | undefined;
  private samplerPromise: Promise<GpuSampler | undefined> | undefined;
  private lastStatus: CarbonStatus | undefined;
  private readonly forgetTimers = new Map<string, NodeJS.Timeout>();
  private noteText: string | undefined;
  private devices: readonly GpuInfo[] = [];
  private registeredIn: HistoryStore | undefined;
  private disposed = false;

  constructor(private readonly deps: TelemetryDeps) {}

  /** The endpoint's URL while it serves. */
  url: string | undefined;

  /** What the user should know (e.g. the port was taken), for `chase/agentInfo`. */
  get notes(): string[] {
    return this.noteText ? [this.noteText] : [];
  }

  /** Applies `chase.metrics.*`: starts, stops or moves the endpoint. Never throws. */
  configure(m: MetricsSettings | undefined): Promise<void> {
    this.wanted = m?.enabled ? { ...m } : undefined;
    this.chain = this.chain.then(() => this.apply()).catch((e: unknown) => this.deps.log.error('metrics endpoint', e));
    return this.chain;
  }

  private async apply(): Promise<void> {
    const want = this.disposed ? undefined : this.wanted;
    const same = (a?: MetricsSettings, b?: MetricsSettings) => a?.host === b?.host && a?.port === b?.port;
    if (this.server && same(want, this.serving)) return;
    if (this.server) {
      await this.server.close();
      this.deps.log.info(`metrics endpoint ${this.url ?? ''} stopped`);
      this.server = undefined;
      this.serving = undefined;
      this.url = undefined;
    }
    this.noteText = undefined;
    if (!want) return;
    const server = new MetricsServer(this.metrics);
    try {
      const where = await server.start({ host: want.host, port: want.port });
      this.server = server;
      this.serving = want;
      this.url = where.url;
      this.deps.log.info(`metrics endpoint serving ${where.url} (chase.metrics.enabled)`);
    } catch (e) {
      await server.close().catch(() => undefined);
      const code = (e as { code?: string }).code;
      this.noteText =
        code === 'EADDRINUSE'
          ? `Metrics are off: port ${want.port} on ${want.host} is in use by another program; set chase.metrics.port to a free port.`
          : `Metrics are off: cannot listen on ${want.host}:${want.port} (${describeError(e)}); check chase.metrics.host and chase.metrics.port.`;
      this.deps.log.warn(this.noteText);
    }
    if (this.lastStatus) this.onCarbonStatus(this.lastStatus, false);
  }

  /** Each carbon status change: the intensity gauge, and a history reading while a run is live. */
  onCarbonStatus(status: CarbonStatus, record = true): void {
    this.lastStatus = status;
    const intensity = metricsIntensity(status);
    if (intensity) this.metrics.update({ intensity });
    if (record && this.deps.liveRuns() > 0) this.recordIntensity(status);
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
    if (this.server) this.metrics.update({ gpus: metricsGpus(samples) });
    if (this.deps.liveRuns() > 0 && samples.length > 0) {
      try {
        const store = this.deps.history();
        if (store && this.registeredIn !== store) {
          // names and indices, so exports can say which GPU model a run used
          for (const d of this.devices) store.registerGpu({ uuid: d.uuid, name: d.name, index: d.index });
          this.registeredIn = store;
        }
        store?.addSamples(sampleRecords(samples));
      } catch (e) {
        this.deps.log.warn(`history: could not record GPU samples: ${describeError(e)}`);
      }
    }
  }

  private getSampler(): Promise<GpuSampler | undefined> {
    this.samplerPromise ??= this.deps.gpu().then((gpu) => {
      if (!gpu) return undefined;
      this.devices = gpu.visibility.devices;
      const onSample = (s: GpuSample[]) => this.onSample(s);
      this.sampler = new GpuSampler(gpu.backend, gpu.visibility.devices, { periodMs: SAMPLE_PERIOD_MS, log: this.deps.log, onSample });
      return this.sampler;
    });
    return this.samplerPromise;
  }

  /** Starts the 1 Hz sampler (once GPU control is up); the first scrape sees the GPUs at once. */
  async start(): Promise<void> {
    const sampler = await this.getSampler();
    if (!sampler || this.disposed) return;
    sampler.start();
    void sampler.sampleOnce().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const t of this.forgetTimers.values()) clearTimeout(t);
    this.forgetTimers.clear();
    this.wanted = undefined;
    await this.configure(undefined);
    this.sampler?.stop();
  }
}
