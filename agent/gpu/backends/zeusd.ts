/**
 * `zeusd` backend: privileged writes relayed to a running zeusd (ml-energy/zeus) over its
 * HTTP-over-Unix-socket API, so the agent itself never needs root. zeusd's API (current versions):
 *
 *   GET  /discover                                  → { gpu_ids, cpu_ids, dram_available, enabled_api_groups }
 *   GET  /gpu/get_power_limit?gpu_ids=0,1           → { "0": { "power_limit_mw": n }, ... }
 *   GET  /gpu/get_power_limit_constraints?gpu_ids=  → { "0": { "min_power_limit_mw": n, "max_power_limit_mw": n } }
 *   GET  /gpu/get_cumulative_energy?gpu_ids=        → { "0": { "energy_mj": n } }
 *   GET  /gpu/get_power?gpu_ids=                    → { "timestamp_ms": t, "power_mw": { "0": n } }
 *   POST /gpu/set_power_limit?gpu_ids=0&power_limit_mw=n&block=true   (query parameters, empty body)
 *   errors: 4xx/5xx with { "error": "..." } or { "errors": { "<gpu id>": "..." } }
 *
 * With `--signing-key-path`, zeusd wants `Authorization: Bearer <JWT>` on everything but /discover
 * and /time, with scope `gpu-control` for writes (401 / 403 otherwise).
 *
 * When NVML also loads (reads need no privilege), names, UUIDs, default limits and fast reads come
 * from NVML and only writes go to zeusd; otherwise everything goes through zeusd.
 */
import { request } from 'node:http';
import { spawnSync } from 'node:child_process';
import type { GpuBackend, GpuControl, GpuInfo, GpuReading } from '../backend';
import { GRANT_CONTROL_HELP, GpuError } from '../errors';
import type { NvmlBackend } from './nvml';

export class ZeusdError extends GpuError {
  constructor(
    message: string,
    readonly status: number,
    cause?: unknown,
  ) {
    super(message, status === 401 ? 'ZEUSD_UNAUTHORIZED' : status === 403 ? 'ZEUSD_FORBIDDEN' : status === 0 ? 'ZEUSD_UNREACHABLE' : 'ZEUSD_ERROR', { cause });
    this.name = 'ZeusdError';
  }
}

export interface ZeusdDiscovery {
  gpu_ids: number[];
  enabled_api_groups: string[];
}

type Query = Record<string, string | number | boolean>;

function pathWithQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${path}?${qs}`;
}

function describeZeusdFailure(status: number, body: string, socketPath: string, path: string): string {
  let detail = body.trim();
  try {
    const parsed = JSON.parse(body) as { error?: string; errors?: Record<string, string> };
    if (parsed.error) detail = parsed.error;
    else if (parsed.errors) detail = Object.entries(parsed.errors).map(([gpu, msg]) => `GPU ${gpu}: ${msg}`).join('; ');
  } catch {
    /* not JSON */
  }
  if (status === 401) return `zeusd at ${socketPath} requires a token for ${path}: set CHASE_ZEUSD_TOKEN to a token from \`zeusd token issue\` (${detail}).`;
  if (status === 403) return `zeusd at ${socketPath} refused ${path}: the token lacks the needed scope (issue one with scope gpu-control) (${detail}).`;
  if (status === 404) return `zeusd at ${socketPath} does not serve ${path} (API group disabled, or an older zeusd): ${detail || 'not found'}. Enable the gpu-read and gpu-control API groups or update zeusd.`;
  return `zeusd at ${socketPath} answered ${status} for ${path}: ${detail}`;
}

/** Minimal HTTP/1.1 client for zeusd's Unix socket. */
export class ZeusdClient {
  constructor(
    readonly socketPath: string,
    private readonly token?: string,
    private readonly timeoutMs = 5000,
  ) {}

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  request<T>(method: 'GET' | 'POST', path: string, query?: Query): Promise<T> {
    const full = pathWithQuery(path, query);
    return new Promise<T>((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method, path: full, headers: { ...this.headers(), 'content-length': '0' }, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new ZeusdError(describeZeusdFailure(status, body, this.socketPath, path), status));
            return;
          }
          try {
            resolve((body ? JSON.parse(body) : undefined) as T);
          } catch (e) {
            reject(new ZeusdError(`zeusd at ${this.socketPath} sent invalid JSON for ${path}`, status, e));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) =>
        reject(new ZeusdError(`Cannot reach zeusd at ${this.socketPath} (${e.message}). Is zeusd running (\`systemctl status zeusd\`), and may this user open its socket?`, 0, e)),
      );
      req.end();
    });
  }

  /**
   * The same request, but blocking: a child Node process does the HTTP exchange while this thread
   * waits. Only for `process.on('exit')` and signal handlers (restoring limits), where the event
   * loop will not run again.
   */
  requestSync(method: 'GET' | 'POST', path: string, query?: Query): void {
    const script = `
      const http = require('node:http');
      const a = JSON.parse(process.argv[1]);
      const req = http.request({ socketPath: a.socketPath, method: a.method, path: a.path, headers: a.headers, timeout: a.timeoutMs }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => { process.stderr.write(body); process.exit(res.statusCode >= 200 && res.statusCode < 300 ? 0 : 3); });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => { process.stderr.write(e.message); process.exit(4); });
      req.end();`;
    const args = JSON.stringify({ socketPath: this.socketPath, method, path: pathWithQuery(path, query), headers: { ...this.headers(), 'content-length': '0' }, timeoutMs: this.timeoutMs });
    // ELECTRON_RUN_AS_NODE: under VS Code's Electron, process.execPath is Electron itself.
    const r = spawnSync(process.execPath, ['-e', script, args], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: this.timeoutMs + 2000, encoding: 'utf8' });
    if (r.status !== 0) throw new ZeusdError(`zeusd request ${path} failed during exit: ${r.stderr || r.error?.message || `exit ${r.status}`}`, r.status ?? 0);
  }

  discover(): Promise<ZeusdDiscovery> {
    return this.request<ZeusdDiscovery>('GET', '/discover');
  }

  getPowerLimits(ids: number[]): Promise<Record<string, { power_limit_mw: number }>> {
    return this.request('GET', '/gpu/get_power_limit', { gpu_ids: ids.join(',') });
  }

  getConstraints(ids: number[]): Promise<Record<string, { min_power_limit_mw: number; max_power_limit_mw: number }>> {
    return this.request('GET', '/gpu/get_power_limit_constraints', { gpu_ids: ids.join(',') });
  }

  getCumulativeEnergy(ids: number[]): Promise<Record<string, { energy_mj: number }>> {
    return this.request('GET', '/gpu/get_cumulative_energy', { gpu_ids: ids.join(',') });
  }

  getPower(ids: number[]): Promise<{ timestamp_ms: number; power_mw: Record<string, number> }> {
    return this.request('GET', '/gpu/get_power', { gpu_ids: ids.join(',') });
  }

  setPowerLimit(ids: number[], limitMw: number): Promise<void> {
    return this.request('POST', '/gpu/set_power_limit', { gpu_ids: ids.join(','), power_limit_mw: Math.round(limitMw), block: true });
  }

  setPowerLimitSync(ids: number[], limitMw: number): void {
    this.requestSync('POST', '/gpu/set_power_limit', { gpu_ids: ids.join(','), power_limit_mw: Math.round(limitMw), block: true });
  }
}

export class ZeusdBackend implements GpuBackend {
  readonly kind = 'zeusd' as const;
  readonly simulated = false;
  readonly label: string;
  private readonly controlCache = new Map<number, GpuControl>();

  private constructor(
    readonly client: ZeusdClient,
    private readonly discovery: ZeusdDiscovery,
    private readonly infos: GpuInfo[],
    private readonly reader: NvmlBackend | undefined,
    private readonly now: () => number,
  ) {
    this.label = `zeusd at ${client.socketPath}${reader ? ' (reads via NVML)' : ''}`;
  }

  /** Connects (GET /discover) and enumerates GPUs; `reader` supplies identities and fast reads when NVML loads. */
  static async open(client: ZeusdClient, reader?: NvmlBackend, now: () => number = Date.now): Promise<ZeusdBackend> {
    const discovery = await client.discover();
    const ids = [...discovery.gpu_ids].sort((a, b) => a - b);
    let infos: GpuInfo[];
    if (reader) {
      const byIndex = new Map(reader.devices().map((d) => [d.index, d]));
      infos = ids.flatMap((id) => (byIndex.has(id) ? [byIndex.get(id) as GpuInfo] : []));
    } else if (ids.length === 0) {
      infos = [];
    } else {
      const [constraints, energy] = await Promise.all([client.getConstraints(ids), client.getCumulativeEnergy(ids).catch(() => undefined)]);
      infos = ids.map((id) => ({
        index: id,
        uuid: `zeusd-gpu-${id}`,
        name: `GPU ${id} (via zeusd)`,
        minLimitMw: constraints[id].min_power_limit_mw,
        maxLimitMw: constraints[id].max_power_limit_mw,
        // zeusd has no default-limit endpoint; NVML's default is the maximum on datacenter GPUs.
        defaultLimitMw: constraints[id].max_power_limit_mw,
        migEnabled: false,
        energyCounter: energy?.[id] !== undefined,
      }));
    }
    return new ZeusdBackend(client, discovery, infos, reader, now);
  }

  devices(): GpuInfo[] {
    return this.infos;
  }

  private info(index: number): GpuInfo {
    const info = this.infos.find((d) => d.index === index);
    if (!info) throw new GpuError(`zeusd manages no GPU with index ${index} (it manages ${this.discovery.gpu_ids.join(', ') || 'none'}).`, 'GPU_NOT_FOUND');
    return info;
  }

  async read(index: number): Promise<GpuReading> {
    const info = this.info(index);
    if (this.reader) return this.reader.readSync(index);
    const [power, limit, energy] = await Promise.all([
      this.client.getPower([index]),
      this.client.getPowerLimits([index]),
      info.energyCounter ? this.client.getCumulativeEnergy([index]) : Promise.resolve(undefined),
    ]);
    const reading: GpuReading = { timestampMs: this.now(), powerMw: power.power_mw[index], powerLimitMw: limit[index].power_limit_mw };
    if (energy) reading.energyMj = energy[index].energy_mj;
    return reading;
  }

  async getPowerLimit(index: number): Promise<number> {
    this.info(index);
    return (await this.client.getPowerLimits([index]))[index].power_limit_mw;
  }

  async control(index: number): Promise<GpuControl> {
    const info = this.info(index);
    const cached = this.controlCache.get(index);
    if (cached) return cached;
    let result: GpuControl;
    if (info.migEnabled) {
      result = { state: 'advise', reason: `GPU ${index} is in MIG mode: its power limit is shared by all MIG instances, so Chase does not change it.` };
    } else if (!this.discovery.enabled_api_groups.includes('gpu-control')) {
      result = { state: 'advise', reason: `zeusd at ${this.client.socketPath} has the gpu-control API group disabled, so it cannot set power limits. Enable it in zeusd, or: ${GRANT_CONTROL_HELP}` };
    } else {
      try {
        // Writing the current value checks the token and scope without changing anything.
        await this.client.setPowerLimit([index], await this.getPowerLimit(index));
        result = { state: 'permitted' };
      } catch (e) {
        if (!(e instanceof ZeusdError)) throw e;
        result = { state: 'advise', reason: e.message };
      }
    }
    this.controlCache.set(index, result);
    return result;
  }

  async setPowerLimit(index: number, limitMw: number): Promise<void> {
    this.info(index);
    await this.client.setPowerLimit([index], limitMw);
  }

  setPowerLimitSync(index: number, limitMw: number): void {
    this.info(index);
    this.client.setPowerLimitSync([index], limitMw);
  }

  async close(): Promise<void> {
    if (this.reader) await this.reader.close();
  }
}
