/**
 * Prometheus `/metrics` for fleets: each agent process exposes one endpoint and Prometheus scrapes
 * it. Off by default; bound to 127.0.0.1 unless a host is configured. Own prom-client Registry (never
 * the global one).
 *
 * Names follow Prometheus' naming rules: base units (grams, watts, joules, grams per joule), `_total`
 * on counters only, `_info` for the build. GPU labels follow dcgm-exporter and Kepler, so Grafana
 * joins Chase's series with theirs: `gpu` is the device index ("0"), as in dcgm-exporter
 * (NVIDIA/dcgm-exporter 4.5.3-4.8.2, internal/pkg/rendermetrics/render_metrics.go line 47:
 * `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `Hostname`) and Kepler (v0.11.4,
 * internal/exporter/prometheus/collector/power_collector.go: `gpu`, `gpu_uuid`, `gpu_name`,
 * `vendor`); the id is `UUID` and the model `modelName`, dcgm-exporter's names.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { millijoulesToJoules, milliwattsToWatts } from '../protocol/accounting';
import { JOULES_PER_KWH } from '../protocol/units';
import { agentVersion } from '../version';

export interface MetricsGpu {
  uuid: string;
  index: number;
  /** Model name, e.g. "NVIDIA A40" (dcgm-exporter's `modelName`). */
  name?: string;
  powerMw?: number;
  powerLimitMw?: number;
  /** Energy counter (mJ), monotone; its increase is added to chase_gpu_energy_joules_total. */
  energyMj?: number;
}

export interface MetricsRun {
  runId: string;
  /** Cumulative emissions of the run so far (g). */
  emissionsG: number;
  /** Cumulative emissions saved vs. the max-power baseline so far (g); an estimate that may fall. */
  savedG?: number;
}

export interface MetricsUpdate {
  intensity?: { zone: string; source: string; intensityGPerKwh: number };
  gpus?: MetricsGpu[];
  runs?: MetricsRun[];
}

export interface MetricsOptions {
  /** Also export Node process metrics (process_*, nodejs_*). Default false. */
  processMetrics?: boolean;
  /** For chase_build_info; default the agent's own. */
  version?: string;
}

type GpuLabel = 'gpu' | 'UUID' | 'modelName';
const GPU_LABELS: GpuLabel[] = ['gpu', 'UUID', 'modelName'];

export class ChaseMetrics {
  readonly registry = new Registry();
  private readonly intensity: Gauge<'zone' | 'source'>;
  private readonly limit: Gauge<GpuLabel>;
  private readonly power: Gauge<GpuLabel>;
  private readonly energy: Counter<GpuLabel>;
  private readonly emissions: Counter<'run'>;
  private readonly savedNow: Gauge<'run'>;
  private readonly savedIncreases: Counter<'run'>;
  private readonly lastEnergyMj = new Map<string, number>();
  private readonly lastRun = new Map<string, { emissionsG: number; savedG: number | undefined }>();

  constructor(o: MetricsOptions = {}) {
    const registers = [this.registry];
    const build = new Gauge({ name: 'chase_build_info', help: 'Chase agent build: version and Node.js version; always 1.', labelNames: ['version', 'nodejs_version'], registers });
    build.set({ version: o.version ?? agentVersion, nodejs_version: process.version }, 1);
    this.intensity = new Gauge({ name: 'chase_grid_carbon_intensity_grams_per_joule', help: 'Carbon intensity of the grid, grams CO2eq per joule (g/kWh ÷ 3.6e6).', labelNames: ['zone', 'source'], registers });
    this.limit = new Gauge({ name: 'chase_gpu_power_limit_watts', help: 'Power limit of the GPU, watts.', labelNames: GPU_LABELS, registers });
    this.power = new Gauge({ name: 'chase_gpu_power_watts', help: 'Power drawn by the GPU, watts.', labelNames: GPU_LABELS, registers });
    this.energy = new Counter({ name: 'chase_gpu_energy_joules_total', help: 'Energy used by the GPU since the agent started, joules.', labelNames: GPU_LABELS, registers });
    this.emissions = new Counter({ name: 'chase_emissions_grams_total', help: 'Emissions of the run, grams CO2eq.', labelNames: ['run'], registers });
    this.savedNow = new Gauge({ name: 'chase_run_emissions_saved_grams', help: 'Emissions the run saved so far vs. running at maximum power, grams CO2eq (an estimate: it can fall, and be negative).', labelNames: ['run'], registers });
    this.savedIncreases = new Counter({ name: 'chase_emissions_saved_grams_total', help: 'Emissions saved vs. running at maximum power in the periods that saved, grams CO2eq: the positive changes of the run\'s saving only; periods that cost carbon are not subtracted (chase_run_emissions_saved_grams is the net).', labelNames: ['run'], registers });
    // standard names (process_*, nodejs_*), so existing Node.js dashboards read them
    if (o.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Applies a snapshot of what the agent knows now. Cumulative inputs become counter increases. */
  update(u: MetricsUpdate): void {
    if (u.intensity) {
      this.intensity.reset(); // one current zone/source: a switched source must not linger
      this.intensity.set({ zone: u.intensity.zone, source: u.intensity.source }, u.intensity.intensityGPerKwh / JOULES_PER_KWH);
    }
    for (const g of u.gpus ?? []) {
      const labels = { gpu: String(g.index), UUID: g.uuid, modelName: g.name ?? '' };
      if (g.powerLimitMw !== undefined) this.limit.set(labels, milliwattsToWatts(g.powerLimitMw));
      if (g.powerMw !== undefined) this.power.set(labels, milliwattsToWatts(g.powerMw));
      if (g.energyMj !== undefined) {
        const last = this.lastEnergyMj.get(g.uuid);
        if (last === undefined) this.energy.inc(labels, 0);
        else if (g.energyMj > last) this.energy.inc(labels, millijoulesToJoules(g.energyMj - last));
        // a counter that went backwards (driver reload) re-bases without adding anything
        this.lastEnergyMj.set(g.uuid, g.energyMj);
      }
    }
    for (const r of u.runs ?? []) {
      const labels = { run: r.runId };
      const last = this.lastRun.get(r.runId) ?? { emissionsG: 0, savedG: undefined };
      this.emissions.inc(labels, Math.max(0, r.emissionsG - last.emissionsG));
      const savedG = r.savedG ?? last.savedG;
      if (savedG !== undefined) {
        this.savedNow.set(labels, savedG);
        // positive changes only: what was saved in the periods that saved; periods that cost carbon
        // (or a revised estimate) lower the gauge, never the counter
        this.savedIncreases.inc(labels, Math.max(0, savedG - (last.savedG ?? 0)));
      }
      this.lastRun.set(r.runId, { emissionsG: Math.max(r.emissionsG, last.emissionsG), savedG });
    }
  }

  /** Drops a finished run's series (call some scrapes after it ended, to bound label cardinality). */
  forgetRun(runId: string): void {
    this.emissions.remove({ run: runId });
    this.savedNow.remove({ run: runId });
    this.savedIncreases.remove({ run: runId });
    this.lastRun.delete(runId);
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export interface MetricsServerOptions {
  /** Default 127.0.0.1: other machines reach it only when configured. */
  host?: string;
  /** Default 9477; 0 picks a free port. */
  port?: number;
}

export const DEFAULT_METRICS_PORT = 9477;

/** Serves GET /metrics. Start it only when the user enabled metrics. */
export class MetricsServer {
  private server: Server | undefined;

  constructor(private readonly metrics: ChaseMetrics) {}

  async start(o: MetricsServerOptions = {}): Promise<{ host: string; port: number; url: string }> {
    const host = o.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: Chase serves GET /metrics\n');
        return;
      }
      this.metrics.text().then(
        (body) => res.writeHead(200, { 'content-type': this.metrics.contentType }).end(body),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(e)}\n`),
      );
    });
    this.server = server;
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? DEFAULT_METRICS_PORT, host, () => resolveListen());
    });
    const port = (server.address() as AddressInfo).port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { host, port, url: `http://${shownHost}:${port}/metrics` };
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
