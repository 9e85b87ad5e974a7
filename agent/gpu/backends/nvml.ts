/**
 * `nvml` backend: reads and writes through NVML directly. Writes need root / CAP_SYS_ADMIN; the
 * agent normally runs as the user, so `control()` finds out once per GPU whether it may:
 *
 *   1. read-only first (probe `auto`): the process's capability, as the driver tests it
 *      (privilege.ts) — no CAP_SYS_ADMIN → advise mode with how to grant control; CAP_SYS_ADMIN →
 *      permitted. Nothing is written.
 *   2. where that cannot be told (not Linux, /proc unreadable), or with probe `write`: set each
 *      GPU's limit to its current value and report advise mode when NVML answers NO_PERMISSION.
 *      Zeus itself skips a set when current == desired, so whether the driver checks permission on
 *      such a no-op write is unconfirmed on real hardware (docs/gpu.md); it is the fallback only.
 */
import type { GpuBackend, GpuControl, GpuInfo, GpuReading } from '../backend';
import { GRANT_CONTROL_HELP, GpuError, NvmlError, NvmlNoPermissionError } from '../errors';
import { Nvml, NvmlArchitecture, NVML_ARCH_VOLTA, type NvmlDeviceHandle, type NvmlProcessInfo } from '../nvml';
import { driverPrivilege, type DriverPrivilege, type PermissionProbe } from '../privilege';

interface Device {
  info: GpuInfo;
  handle: NvmlDeviceHandle;
  label: string;
  control?: GpuControl;
}

export interface NvmlBackendOptions {
  now?: () => number;
  /** `auto` (default): read the process's capability first; `write`: always probe by writing the current limit. */
  permissionProbe?: PermissionProbe;
  /** The capability reader (privilege.ts); injectable for tests. */
  privilege?: () => DriverPrivilege | undefined;
}

export class NvmlBackend implements GpuBackend {
  readonly kind = 'nvml' as const;
  readonly simulated = false;
  readonly label: string;
  private readonly list: Device[] = [];
  /** GPUs NVML counts but that could not be opened (e.g. GPU_IS_LOST), with the reason. */
  readonly unavailable: string[] = [];

  private readonly now: () => number;
  private readonly permissionProbe: PermissionProbe;
  private readonly readPrivilege: () => DriverPrivilege | undefined;
  private privilege: DriverPrivilege | undefined | null = null; // null: not read yet

  /** Initializes NVML and enumerates the GPUs; throws a typed NvmlError (e.g. DRIVER_NOT_LOADED). */
  constructor(
    readonly nvml: Nvml,
    options: NvmlBackendOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.permissionProbe = options.permissionProbe ?? 'auto';
    this.readPrivilege = options.privilege ?? (() => driverPrivilege());
    this.label = `NVML (${nvml.libraryPath})`;
    nvml.init();
    const count = nvml.deviceCount();
    for (let index = 0; index < count; index++) {
      try {
        this.list.push(this.open(index));
      } catch (e) {
        // One lost or broken GPU must not hide the others.
        if (!(e instanceof NvmlError)) throw e;
        this.unavailable.push(`GPU ${index}: ${e.message}`);
      }
    }
  }

  private open(index: number): Device {
    const nvml = this.nvml;
    const handle = nvml.handleByIndex(index);
    const uuid = nvml.uuid(handle, `GPU ${index}`);
    const label = `GPU ${index} (${uuid})`;
    const arch = optional(() => nvml.architecture(handle, label));
    const constraints = optional(() => nvml.limitConstraintsMw(handle, label));
    const current = optional(() => nvml.powerLimitMw(handle, label)) ?? 0;
    const defaultMw = optional(() => nvml.defaultLimitMw(handle, label)) ?? current;
    const mig = optional(() => nvml.migMode(handle, label));
    // The energy counter exists from Volta on; probe it rather than trusting the architecture alone.
    const energyCounter = (arch === undefined || arch >= NVML_ARCH_VOLTA) && optional(() => nvml.totalEnergyMj(handle, label)) !== undefined;
    const info: GpuInfo = {
      index,
      uuid,
      name: nvml.name(handle, label),
      busId: optional(() => nvml.pciBusId(handle, label)),
      architecture: arch === undefined ? undefined : (NvmlArchitecture[arch] ?? `arch ${arch}`),
      minLimitMw: constraints?.minMw ?? current,
      maxLimitMw: constraints?.maxMw ?? current,
      defaultLimitMw: defaultMw,
      migEnabled: mig?.current ?? false,
      energyCounter,
    };
    const device: Device = { info, handle, label };
    if (!constraints) device.control = { state: 'advise', reason: `${label}: this GPU does not report power-limit constraints, so its power limit cannot be managed (NVML NOT_SUPPORTED).` };
    return device;
  }

  private device(index: number): Device {
    const d = this.list.find((x) => x.info.index === index);
    if (!d) throw new GpuError(`No GPU with index ${index} (this host has ${this.list.length}; \`chase-agent gpus\` lists them).`, 'GPU_NOT_FOUND');
    return d;
  }

  devices(): GpuInfo[] {
    return this.list.map((d) => d.info);
  }

  readSync(index: number): GpuReading {
    const d = this.device(index);
    const reading: GpuReading = {
      timestampMs: this.now(),
      powerMw: this.nvml.powerUsageMw(d.handle, d.label),
      powerLimitMw: this.nvml.powerLimitMw(d.handle, d.label),
    };
    if (d.info.energyCounter) reading.energyMj = this.nvml.totalEnergyMj(d.handle, d.label);
    return reading;
  }

  async read(index: number): Promise<GpuReading> {
    return this.readSync(index);
  }

  async getPowerLimit(index: number): Promise<number> {
    const d = this.device(index);
    return this.nvml.powerLimitMw(d.handle, d.label);
  }

  /** Enforced limit (the minimum over all limiters), utilization, processes, persistence: for diagnostics. */
  details(index: number): { enforcedLimitMw?: number; gpuPercent?: number; memoryPercent?: number; processes?: NvmlProcessInfo[]; persistenceMode?: boolean } {
    const d = this.device(index);
    const util = optional(() => this.nvml.utilization(d.handle, d.label));
    return {
      enforcedLimitMw: optional(() => this.nvml.enforcedLimitMw(d.handle, d.label)),
      gpuPercent: util?.gpuPercent,
      memoryPercent: util?.memoryPercent,
      processes: optional(() => this.nvml.runningComputeProcesses(d.handle, d.label)),
      persistenceMode: optional(() => this.nvml.persistenceMode(d.handle, d.label)),
    };
  }

  /** Compute processes on the GPU; [] where NVML cannot list them (old driver, NOT_SUPPORTED). */
  processes(index: number): NvmlProcessInfo[] {
    const d = this.device(index);
    return optional(() => this.nvml.runningComputeProcesses(d.handle, d.label)) ?? [];
  }

  activity(index: number): number | undefined {
    const d = this.device(index);
    const util = optional(() => this.nvml.utilization(d.handle, d.label));
    const clock = optional(() => this.nvml.smClockMhz(d.handle, d.label));
    return util && clock !== undefined ? (util.gpuPercent / 100) * clock : undefined;
  }

  async control(index: number): Promise<GpuControl> {
    const d = this.device(index);
    if (d.control) return d.control;
    if (d.info.migEnabled) {
      d.control = { state: 'advise', reason: `${d.label} is in MIG mode: its power limit is shared by all MIG instances, so Chase does not change it. Disable MIG to let Chase control this GPU.` };
      return d.control;
    }
    if (this.permissionProbe === 'auto') {
      if (this.privilege === null) this.privilege = this.readPrivilege();
      if (this.privilege) {
        d.control = this.privilege.admin
          ? { state: 'permitted' }
          : { state: 'advise', reason: `The agent runs without root / CAP_SYS_ADMIN (${this.privilege.why}), which NVML needs to set power limits. ${GRANT_CONTROL_HELP}` };
        return d.control;
      }
    }
    try {
      // The fallback: a write of the current value, which fails with NO_PERMISSION when a real change would.
      this.nvml.setPowerLimitMw(d.handle, this.nvml.powerLimitMw(d.handle, d.label), d.label);
      d.control = { state: 'permitted' };
    } catch (e) {
      if (e instanceof NvmlNoPermissionError) {
        d.control = { state: 'advise', reason: `The agent runs without root / CAP_SYS_ADMIN, which NVML needs to set power limits. ${GRANT_CONTROL_HELP}` };
      } else if (e instanceof NvmlError) {
        d.control = { state: 'advise', reason: e.message };
      } else {
        throw e;
      }
    }
    return d.control;
  }

  setPowerLimitSync(index: number, limitMw: number): void {
    const d = this.device(index);
    this.nvml.setPowerLimitMw(d.handle, limitMw, d.label);
  }

  async setPowerLimit(index: number, limitMw: number): Promise<void> {
    this.setPowerLimitSync(index, limitMw);
  }

  async close(): Promise<void> {
    this.nvml.shutdown();
  }
}

/** Runs an optional NVML query: NOT_SUPPORTED, FUNCTION_NOT_FOUND (old driver) and other NVML errors become undefined. */
function optional<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NvmlError) return undefined;
    throw e;
  }
}
