/**
 * The one interface every GPU source implements (like zeusd's `GpuManager` trait): NVML directly,
 * zeusd as a privileged relay, or simulated GPUs from a measured profile. Everything above this
 * file (the safety guard, the sampler, `chase-agent gpus`, control/) sees only `GpuBackend`.
 *
 * Units are in the names: power and limits in mW, energy in mJ, times in epoch ms UTC.
 * Devices are addressed by the backend's index (NVML order); the guard maps UUIDs to indices.
 */

export type GpuBackendKind = 'nvml' | 'zeusd' | 'simulated';

/** Whether Chase may set this GPU's power limit, and if not, why and how to grant it. */
export type GpuControl = { state: 'permitted' } | { state: 'advise'; reason: string };

export interface GpuInfo {
  /** The backend's (NVML's) index. */
  index: number;
  /** "GPU-xxxxxxxx-..." (NVML); simulated GPUs use "SIM-GPU-..."; zeusd without NVML "zeusd-gpu-<i>". */
  uuid: string;
  name: string;
  /** PCI domain:bus:device.function, when known. */
  busId?: string;
  /** Architecture name ("Ampere"), when known. */
  architecture?: string;
  minLimitMw: number;
  maxLimitMw: number;
  defaultLimitMw: number;
  /** MIG mode on: the power limit is shared by every MIG instance, so Chase refuses to control it. */
  migEnabled: boolean;
  /** True when the GPU has a hardware energy counter (Volta and newer); else energy is integrated from power. */
  energyCounter: boolean;
}

export interface GpuReading {
  timestampMs: number;
  powerMw: number;
  /** The hardware energy counter, mJ (only when `GpuInfo.energyCounter`). */
  energyMj?: number;
  powerLimitMw: number;
}

/** A compute process on a GPU, as NVML lists it. */
export interface GpuComputeProcess {
  pid: number;
  /** Bytes; undefined where NVML cannot tell (NVML_VALUE_NOT_AVAILABLE). */
  usedGpuMemoryBytes?: number;
}

/** A simulated job's view of its GPUs: variables for its environment (CHASE_SIM_THROUGHPUT_FILE). */
export interface SimulatedJobLink {
  readonly env: Readonly<Record<string, string>>;
  /** Stops keeping it current and removes what it wrote. */
  close(): void;
}

/**
 * Optional capabilities are optional members: callers test for them (`backend.processes?.(i)`)
 * instead of downcasting to a backend class.
 */
export interface GpuBackend {
  readonly kind: GpuBackendKind;
  /** True for simulated GPUs: the UI must say so. */
  readonly simulated: boolean;
  /** Human label, e.g. "NVML (libnvidia-ml.so.1)", "zeusd at /var/run/zeusd.sock". */
  readonly label: string;
  /** The GPUs, as discovered when the backend was opened. */
  devices(): GpuInfo[];
  read(index: number): Promise<GpuReading>;
  /** Synchronous read where the backend can (NVML, simulated): the sampler prefers it. */
  readSync?(index: number): GpuReading;
  getPowerLimit(index: number): Promise<number>;
  /** Whether limits can be set; probed once and cached. */
  control(index: number): Promise<GpuControl>;
  setPowerLimit(index: number, limitMw: number): Promise<void>;
  /**
   * Sets a limit without yielding to the event loop: used by `process.on('exit')` and signal
   * handlers, where async work never completes.
   */
  setPowerLimitSync(index: number, limitMw: number): void;
  /**
   * GPU activity for jobs with no progress signal: utilization (0–1) × SM clock (MHz), where the
   * backend can read both; undefined otherwise. A proxy for work done, labelled so wherever used.
   */
  activity?(index: number): number | undefined;
  /** Compute processes on the GPU, where the backend can list them (NVML, zeusd with NVML on the host). */
  processes?(index: number): GpuComputeProcess[];
  /**
   * Simulated GPUs only: what a job needs to run at these GPUs' modelled speed, so that a lower
   * limit visibly slows it down (the demo workload). Until `close()`, the backend keeps it current.
   */
  simulatedJob?(indices: readonly number[]): SimulatedJobLink;
  close(): Promise<void>;
}
