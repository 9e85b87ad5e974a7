/**
 * `zeusd` backend: privileged writes relayed to a running zeusd (ml-energy/zeus), so the agent
 * itself never needs root. The HTTP client and zeusd's API generations are in zeusdClient.ts.
 *
 * Where reads come from (reads need no privilege):
 *   - NVML loaded on this host: names, UUIDs, limits, constraints, power and energy from NVML, as
 *     Zeus's own `ZeusdNVIDIAGPU` does (zeus/device/gpu/nvidia.py: reads through pynvml, writes
 *     through zeusd). Works with every zeusd release.
 *   - no NVML: everything through zeusd, which needs zeusd 0.5+ (0.4 has no power-limit reads);
 *     with zeusd 0.4 the backend refuses to open and says why.
 *
 * `control()` never writes: it reads what zeusd says about itself (`enabled_api_groups`,
 * `auth_required` from /discover) and, when auth is on, the token's scopes (`GET /auth/whoami`).
 */
import type { GpuBackend, GpuComputeProcess, GpuControl, GpuInfo, GpuReading } from '../backend';
import { GRANT_CONTROL_HELP, GpuError } from '../errors';
import type { NvmlBackend } from './nvml';
import { ZeusdClient, ZeusdError, type ZeusdDiscovery, type ZeusdGpu } from './zeusdClient';

export { ZeusdClient, ZeusdError } from './zeusdClient';

/** "0000:01:00.0" (zeusd) and "00000000:01:00.0" (NVML) name the same GPU: compare the numbers. */
function pciKey(address: string | undefined): string | undefined {
  const m = address ? /^([0-9a-f]+):([0-9a-f]+):([0-9a-f]+)\.([0-9a-f])$/i.exec(address.trim()) : null;
  return m ? m.slice(1).map((h) => parseInt(h, 16)).join(':') : undefined;
}

/** zeusd's GPUs as NVML sees them: by PCI address where zeusd gives one, else by index (both use NVML's order). */
function matchNvmlDevices(gpus: ZeusdGpu[], reader: NvmlBackend): Map<number, GpuInfo> {
  const nvml = reader.devices();
  const out = new Map<number, GpuInfo>();
  for (const g of gpus) {
    const key = pciKey(g.pciAddress);
    const match = key ? nvml.find((d) => pciKey(d.busId) === key) : nvml.find((d) => d.index === g.id);
    if (match) out.set(g.id, match);
  }
  return out;
}

export class ZeusdBackend implements GpuBackend {
  readonly kind = 'zeusd' as const;
  readonly simulated = false;
  readonly label: string;
  private readonly controlCache = new Map<number, GpuControl>();
  private tokenCheck: Promise<GpuControl> | undefined;
  /** Listed by NVML on this host; zeusd has no process route, so absent without NVML. */
  readonly processes?: (index: number) => GpuComputeProcess[];

  private constructor(
    readonly client: ZeusdClient,
    readonly discovery: ZeusdDiscovery,
    /** By zeusd's GPU id. `GpuInfo.index` is NVML's index when NVML reads (the same as zeusd's unless PCI matching moved it). */
    private readonly infos: Map<number, GpuInfo>,
    private readonly reader: NvmlBackend | undefined,
    private readonly now: () => number,
  ) {
    this.label = `${client.where} (zeusd ${discovery.api}.x API${reader ? ', reads via NVML' : ''})`;
    if (reader) {
      this.processes = (index) => {
        this.zeusdId(index); // only GPUs zeusd manages
        return reader.processes(index);
      };
    }
  }

  /** Connects (GET /discover) and enumerates GPUs; `reader` supplies identities and reads when NVML loads. */
  static async open(client: ZeusdClient, reader?: NvmlBackend, now: () => number = Date.now): Promise<ZeusdBackend> {
    const discovery = await client.discover();
    const gpus = [...discovery.gpus].sort((a, b) => a.id - b.id);
    if (reader) return new ZeusdBackend(client, discovery, matchNvmlDevices(gpus, reader), reader, now);
    if (discovery.api === '0.4') {
      throw new ZeusdError(
        `${client.where} runs zeusd 0.4, which serves no power-limit reads (/gpu/get_power_limit and /gpu/get_power_limit_constraints came with zeusd 0.5), and NVML did not load on this host to read them instead. Install the NVIDIA driver's libnvidia-ml.so.1 here (or set CHASE_NVML_LIBRARY), or update zeusd to 0.5.`,
        200,
        'ZEUSD_UNSUPPORTED',
      );
    }
    const infos = new Map<number, GpuInfo>();
    if (gpus.length > 0) {
      const constraints = await client.getConstraintsMw(gpus.map((g) => g.id));
      for (const g of gpus) {
        const c = constraints.get(g.id) as { minMw: number; maxMw: number };
        const energyCounter = g.cumulativeEnergyAvailable ?? (await client.getCumulativeEnergyMj(g.id).then(() => true, () => false));
        infos.set(g.id, {
          index: g.id,
          uuid: `zeusd-gpu-${g.id}`,
          name: g.name ? `${g.name} (via zeusd)` : `GPU ${g.id} (via zeusd)`,
          busId: g.pciAddress,
          minLimitMw: c.minMw,
          maxLimitMw: c.maxMw,
          // zeusd serves no default limit; NVML's default is the maximum on datacenter GPUs.
          defaultLimitMw: c.maxMw,
          migEnabled: false,
          energyCounter,
        });
      }
    }
    return new ZeusdBackend(client, discovery, infos, undefined, now);
  }

  devices(): GpuInfo[] {
    return [...this.infos.values()];
  }

  private infoOf(index: number): GpuInfo {
    return this.infos.get(this.zeusdId(index)) as GpuInfo;
  }

  /** zeusd's id for the GPU the agent knows by `index`. */
  private zeusdId(index: number): number {
    for (const [id, info] of this.infos) if (info.index === index) return id;
    throw new GpuError(`zeusd manages no GPU with index ${index} (it manages ${[...this.infos.values()].map((d) => d.index).join(', ') || 'none'}).`, 'GPU_NOT_FOUND');
  }

  async read(index: number): Promise<GpuReading> {
    const id = this.zeusdId(index);
    if (this.reader) return this.reader.readSync(index);
    const info = this.infos.get(id) as GpuInfo;
    const [powerMw, powerLimitMw, energyMj] = await Promise.all([
      this.client.getPowerMw(id),
      this.client.getPowerLimitMw(id),
      info.energyCounter ? this.client.getCumulativeEnergyMj(id) : Promise.resolve(undefined),
    ]);
    const reading: GpuReading = { timestampMs: this.now(), powerMw, powerLimitMw };
    if (energyMj !== undefined) reading.energyMj = energyMj;
    return reading;
  }

  async getPowerLimit(index: number): Promise<number> {
    const id = this.zeusdId(index);
    return this.reader ? this.reader.getPowerLimit(index) : this.client.getPowerLimitMw(id);
  }

  /** Whether zeusd will take writes from us: its API groups, and the token's scopes when auth is on. Read-only. */
  async control(index: number): Promise<GpuControl> {
    const info = this.infoOf(index);
    const cached = this.controlCache.get(index);
    if (cached) return cached;
    let result: GpuControl;
    if (info.migEnabled) {
      result = { state: 'advise', reason: `GPU ${index} is in MIG mode: its power limit is shared by all MIG instances, so Chase does not change it.` };
    } else if (!this.discovery.enabledApiGroups.includes('gpu-control')) {
      result = { state: 'advise', reason: `${this.client.where} has the gpu-control API group disabled, so it cannot set power limits. Start zeusd with \`--enable gpu-control,gpu-read\`, or: ${GRANT_CONTROL_HELP}` };
    } else {
      result = await (this.tokenCheck ??= this.checkToken());
    }
    this.controlCache.set(index, result);
    return result;
  }

  private async checkToken(): Promise<GpuControl> {
    if (!this.discovery.authRequired) return { state: 'permitted' };
    if (!this.client.hasToken) {
      return { state: 'advise', reason: `${this.client.where} requires a token (it runs with --signing-key-path). Set CHASE_ZEUSD_TOKEN (or ZEUSD_TOKEN) to a token from \`zeusd token issue --user $USER --scope gpu-read,gpu-control --expires 30d\`.` };
    }
    try {
      const me = await this.client.whoami();
      if (me.scopes.includes('gpu-control')) return { state: 'permitted' };
      return { state: 'advise', reason: `The zeusd token for user '${me.sub}' lacks the gpu-control scope (it has: ${me.scopes.join(', ') || 'none'}). Issue one with \`zeusd token issue --scope gpu-read,gpu-control\`.` };
    } catch (e) {
      if (e instanceof ZeusdError) return { state: 'advise', reason: e.message };
      throw e;
    }
  }

  async setPowerLimit(index: number, limitMw: number): Promise<void> {
    await this.client.setPowerLimit([this.zeusdId(index)], limitMw);
  }

  setPowerLimitSync(index: number, limitMw: number): void {
    this.client.setPowerLimitSync([this.zeusdId(index)], limitMw);
  }

  async close(): Promise<void> {
    if (this.reader) await this.reader.close();
  }
}
