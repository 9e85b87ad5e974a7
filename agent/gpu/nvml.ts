/**
 * NVML through koffi (N-API FFI: no native module tied to one Node ABI). Binds the NVML entry points
 * Chase uses with their nvml.h signatures (versioned `_v2`/`_v3` names where they exist) and
 * translates every non-zero nvmlReturn_t into a typed error (errors.ts) right here, so nothing
 * above this file sees a raw code.
 *
 * Units are NVML's own: power in mW, energy in mJ.
 *
 * Calls are synchronous (koffi calls the C function on this thread). That is deliberate: NVML calls
 * take microseconds, and power limits must be restorable synchronously inside `process.on('exit')`.
 * Out-parameters are preallocated TypedArrays (~0.1-0.25 µs per call measured, vs ~0.5-1 µs with
 * koffi's `[0]` arrays), so the hot read path allocates nothing but the result.
 *
 * A missing library is a normal state: `Nvml.load()` throws NvmlLibraryNotFoundError, which
 * `openGpuBackend` turns into simulated GPUs. A missing entry point (old driver) only fails the
 * call that needs it, with NvmlFunctionNotFoundError.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as KoffiModule from 'koffi' with { 'resolution-mode': 'require' };
import { NvmlReturn, nvmlError, NvmlLibraryNotFoundError, NvmlInsufficientSizeError } from './errors';

type Koffi = typeof KoffiModule;

/** An nvmlDevice_t (opaque pointer owned by NVML). */
export type NvmlDeviceHandle = { readonly __nvmlDevice: unique symbol };

/** nvmlDeviceArchitecture_t values. */
export const NvmlArchitecture: Record<number, string> = {
  2: 'Kepler',
  3: 'Maxwell',
  4: 'Pascal',
  5: 'Volta',
  6: 'Turing',
  7: 'Ampere',
  8: 'Ada',
  9: 'Hopper',
  10: 'Blackwell',
};
export const NVML_ARCH_VOLTA = 5;

export interface NvmlProcessInfo {
  pid: number;
  /** Bytes; undefined when NVML reports NVML_VALUE_NOT_AVAILABLE (e.g. under some containers/Windows WDDM). */
  usedGpuMemoryBytes: number | undefined;
  /** 0xFFFFFFFF when not in a MIG instance. */
  gpuInstanceId: number;
  computeInstanceId: number;
}

// nvml.h buffer sizes.
const NAME_BUFFER_SIZE = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE
const UUID_BUFFER_SIZE = 96; // NVML_DEVICE_UUID_V2_BUFFER_SIZE
// nvmlPciInfo_t: char busIdLegacy[16]; unsigned int domain, bus, device, pciDeviceId, pciSubSystemId; char busId[32].
const PCI_INFO_SIZE = 16 + 5 * 4 + 32;
const PCI_BUSID_OFFSET = 36;
const PCI_BUSID_SIZE = 32;
// nvmlProcessInfo_t (v2 layout, filled by the _v3 getter): u32 pid; (pad 4) u64 usedGpuMemory; u32 gpuInstanceId; u32 computeInstanceId.
const PROCESS_INFO_SIZE = 24;
const NVML_VALUE_NOT_AVAILABLE_ULL = 0xffffffffffffffffn;

/** Library names tried in order when CHASE_NVML_LIBRARY is not set. */
export function nvmlLibraryCandidates(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.CHASE_NVML_LIBRARY) return [env.CHASE_NVML_LIBRARY];
  if (platform === 'win32') {
    const system32 = join(env.SystemRoot ?? 'C:\\Windows', 'System32', 'nvml.dll');
    const nvsmi = join(env.ProgramFiles ?? 'C:\\Program Files', 'NVIDIA Corporation', 'NVSMI', 'nvml.dll');
    return ['nvml.dll', system32, nvsmi];
  }
  return ['libnvidia-ml.so.1'];
}

let koffiModule: Koffi | undefined;
function loadKoffi(): Koffi {
  // Loaded lazily: a platform without a koffi prebuild must still run (simulated GPUs).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  koffiModule ??= require('koffi') as Koffi;
  return koffiModule;
}

type Fn = (...args: unknown[]) => number;

export class Nvml {
  private readonly u32a = new Uint32Array(1);
  private readonly u32b = new Uint32Array(1);
  // The u64 energy out-parameter, also viewed as two u32 halves: reading those avoids a BigInt per call.
  private readonly u64Buffer = new ArrayBuffer(8);
  private readonly u64 = new BigUint64Array(this.u64Buffer);
  private readonly u64Halves = new Uint32Array(this.u64Buffer);
  private readonly util = new Uint32Array(2);
  private readonly nameBuf = new Uint8Array(NAME_BUFFER_SIZE);
  private readonly pciBuf = new Uint8Array(PCI_INFO_SIZE);
  private readonly fns: Record<string, Fn> = {};
  private errorStringFn: ((code: number) => string) | undefined;
  private initialized = false;

  private constructor(
    koffi: Koffi,
    private readonly lib: KoffiModule.LibraryHandle,
    /** The file or soname that loaded. */
    readonly libraryPath: string,
  ) {
    const dev = koffi.pointer(koffi.opaque()); // nvmlDevice_t
    const outDev = koffi.out(koffi.pointer(dev)); // nvmlDevice_t *
    const u32p = 'unsigned int *';
    const bindings: [string, (string | KoffiModule.TypeObject | ReturnType<Koffi['out']>)[]][] = [
      ['nvmlInit_v2', []],
      ['nvmlShutdown', []],
      ['nvmlDeviceGetCount_v2', [u32p]],
      ['nvmlDeviceGetHandleByIndex_v2', ['unsigned int', outDev]],
      ['nvmlDeviceGetHandleByUUID', ['const char *', outDev]],
      ['nvmlDeviceGetName', [dev, 'char *', 'unsigned int']],
      ['nvmlDeviceGetUUID', [dev, 'char *', 'unsigned int']],
      ['nvmlDeviceGetPciInfo_v3', [dev, 'void *']],
      ['nvmlDeviceGetArchitecture', [dev, u32p]],
      ['nvmlDeviceGetPowerUsage', [dev, u32p]],
      ['nvmlDeviceGetTotalEnergyConsumption', [dev, 'unsigned long long *']],
      ['nvmlDeviceGetPowerManagementLimit', [dev, u32p]],
      ['nvmlDeviceGetPowerManagementLimitConstraints', [dev, u32p, u32p]],
      ['nvmlDeviceGetPowerManagementDefaultLimit', [dev, u32p]],
      ['nvmlDeviceGetEnforcedPowerLimit', [dev, u32p]],
      ['nvmlDeviceSetPowerManagementLimit', [dev, 'unsigned int']],
      ['nvmlDeviceGetUtilizationRates', [dev, u32p]], // nvmlUtilization_t { unsigned int gpu, memory; }
      ['nvmlDeviceGetClockInfo', [dev, 'unsigned int', u32p]], // (device, nvmlClockType_t, unsigned int *clock MHz)
      ['nvmlDeviceGetComputeRunningProcesses_v3', [dev, u32p, 'void *']],
      ['nvmlDeviceGetPersistenceMode', [dev, u32p]], // nvmlEnableState_t *
      ['nvmlDeviceGetMigMode', [dev, u32p, u32p]],
    ];
    for (const [name, args] of bindings) {
      try {
        this.fns[name] = lib.func(name, 'int', args) as Fn;
      } catch {
        // Old driver without this entry point: only calls that need it fail.
        this.fns[name] = () => NvmlReturn.ERROR_FUNCTION_NOT_FOUND;
      }
    }
    try {
      this.errorStringFn = lib.func('nvmlErrorString', 'const char *', ['int']) as (code: number) => string;
    } catch {
      this.errorStringFn = undefined;
    }
  }

  /**
   * Loads the NVML library (CHASE_NVML_LIBRARY, else the platform's names). Throws
   * NvmlLibraryNotFoundError when none loads; does not call nvmlInit_v2.
   */
  static load(candidates: string[] = nvmlLibraryCandidates()): Nvml {
    let koffi: Koffi;
    try {
      koffi = loadKoffi();
    } catch (e) {
      throw new NvmlLibraryNotFoundError(
        `The FFI module koffi could not load on ${process.platform}-${process.arch}, so NVML cannot be used: ${e instanceof Error ? e.message : String(e)}`,
        NvmlReturn.ERROR_LIBRARY_NOT_FOUND,
        'dlopen',
        e,
      );
    }
    const failures: string[] = [];
    for (const candidate of candidates) {
      // An absolute path that does not exist: skip without asking the loader.
      if ((candidate.includes('/') || candidate.includes('\\')) && !existsSync(candidate)) {
        failures.push(`${candidate}: no such file`);
        continue;
      }
      try {
        return new Nvml(koffi, koffi.load(candidate), candidate);
      } catch (e) {
        failures.push(`${candidate}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const err = nvmlError(NvmlReturn.ERROR_LIBRARY_NOT_FOUND, 'dlopen');
    throw new NvmlLibraryNotFoundError(
      `${err.message} Tried: ${failures.join('; ')}`,
      NvmlReturn.ERROR_LIBRARY_NOT_FOUND,
      'dlopen',
      new Error(failures.join('; ')),
    );
  }

  /** NVML's own text for a return code. */
  errorString(code: number): string {
    try {
      return this.errorStringFn ? this.errorStringFn(code) : `NVML error ${code}`;
    } catch {
      return `NVML error ${code}`;
    }
  }

  private check(rc: number, fn: string, device?: string): void {
    if (rc !== NvmlReturn.SUCCESS) throw nvmlError(rc, fn, this.errorString(rc), device);
  }

  get isInitialized(): boolean {
    return this.initialized;
  }

  init(): void {
    this.check(this.fns.nvmlInit_v2(), 'nvmlInit_v2');
    this.initialized = true;
  }

  shutdown(): void {
    if (!this.initialized) return;
    this.initialized = false;
    this.check(this.fns.nvmlShutdown(), 'nvmlShutdown');
  }

  deviceCount(): number {
    this.check(this.fns.nvmlDeviceGetCount_v2(this.u32a), 'nvmlDeviceGetCount_v2');
    return this.u32a[0];
  }

  handleByIndex(index: number): NvmlDeviceHandle {
    const out: unknown[] = [null];
    this.check(this.fns.nvmlDeviceGetHandleByIndex_v2(index, out), 'nvmlDeviceGetHandleByIndex_v2', `GPU ${index}`);
    return out[0] as NvmlDeviceHandle;
  }

  handleByUuid(uuid: string): NvmlDeviceHandle {
    const out: unknown[] = [null];
    this.check(this.fns.nvmlDeviceGetHandleByUUID(uuid, out), 'nvmlDeviceGetHandleByUUID', uuid);
    return out[0] as NvmlDeviceHandle;
  }

  private readString(fn: string, h: NvmlDeviceHandle, size: number, device?: string): string {
    const buf = size === NAME_BUFFER_SIZE ? this.nameBuf : new Uint8Array(size);
    buf.fill(0);
    this.check(this.fns[fn](h, buf, size), fn, device);
    const end = buf.indexOf(0);
    return Buffer.from(buf.buffer, buf.byteOffset, end < 0 ? size : end).toString('utf8');
  }

  name(h: NvmlDeviceHandle, device?: string): string {
    return this.readString('nvmlDeviceGetName', h, NAME_BUFFER_SIZE, device);
  }

  uuid(h: NvmlDeviceHandle, device?: string): string {
    return this.readString('nvmlDeviceGetUUID', h, UUID_BUFFER_SIZE, device);
  }

  /** The domain:bus:device.function id, e.g. "00000000:01:00.0" (nvmlPciInfo_t.busId). */
  pciBusId(h: NvmlDeviceHandle, device?: string): string {
    this.pciBuf.fill(0);
    this.check(this.fns.nvmlDeviceGetPciInfo_v3(h, this.pciBuf), 'nvmlDeviceGetPciInfo_v3', device);
    const field = this.pciBuf.subarray(PCI_BUSID_OFFSET, PCI_BUSID_OFFSET + PCI_BUSID_SIZE);
    const end = field.indexOf(0);
    return Buffer.from(field.buffer, field.byteOffset, end < 0 ? PCI_BUSID_SIZE : end).toString('latin1');
  }

  /** nvmlDeviceArchitecture_t (5 = Volta, 7 = Ampere, ...; see NvmlArchitecture). */
  architecture(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.nvmlDeviceGetArchitecture(h, this.u32a), 'nvmlDeviceGetArchitecture', device);
    return this.u32a[0];
  }

  powerUsageMw(h: NvmlDeviceHandle, device?: string): number {
    const rc = this.fns.nvmlDeviceGetPowerUsage(h, this.u32a);
    if (rc !== 0) this.check(rc, 'nvmlDeviceGetPowerUsage', device);
    return this.u32a[0];
  }

  /** Energy since the driver was last reloaded, mJ (Volta and newer). */
  totalEnergyMj(h: NvmlDeviceHandle, device?: string): number {
    const rc = this.fns.nvmlDeviceGetTotalEnergyConsumption(h, this.u64);
    if (rc !== 0) this.check(rc, 'nvmlDeviceGetTotalEnergyConsumption', device);
    // Little-endian halves (x86-64, arm64); exact below 2^53 mJ (~2.5 GWh).
    return this.u64Halves[0] + this.u64Halves[1] * 4294967296;
  }

  powerLimitMw(h: NvmlDeviceHandle, device?: string): number {
    const rc = this.fns.nvmlDeviceGetPowerManagementLimit(h, this.u32a);
    if (rc !== 0) this.check(rc, 'nvmlDeviceGetPowerManagementLimit', device);
    return this.u32a[0];
  }

  limitConstraintsMw(h: NvmlDeviceHandle, device?: string): { minMw: number; maxMw: number } {
    this.check(this.fns.nvmlDeviceGetPowerManagementLimitConstraints(h, this.u32a, this.u32b), 'nvmlDeviceGetPowerManagementLimitConstraints', device);
    return { minMw: this.u32a[0], maxMw: this.u32b[0] };
  }

  defaultLimitMw(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.nvmlDeviceGetPowerManagementDefaultLimit(h, this.u32a), 'nvmlDeviceGetPowerManagementDefaultLimit', device);
    return this.u32a[0];
  }

  /** The limit actually enforced (the minimum of all limiters, e.g. also an in-band/out-of-band cap). */
  enforcedLimitMw(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.nvmlDeviceGetEnforcedPowerLimit(h, this.u32a), 'nvmlDeviceGetEnforcedPowerLimit', device);
    return this.u32a[0];
  }

  /** Needs root / CAP_SYS_ADMIN (NvmlNoPermissionError otherwise). */
  setPowerLimitMw(h: NvmlDeviceHandle, limitMw: number, device?: string): void {
    this.check(this.fns.nvmlDeviceSetPowerManagementLimit(h, Math.round(limitMw)), 'nvmlDeviceSetPowerManagementLimit', device);
  }

  utilization(h: NvmlDeviceHandle, device?: string): { gpuPercent: number; memoryPercent: number } {
    const buf = this.util;
    this.check(this.fns.nvmlDeviceGetUtilizationRates(h, buf), 'nvmlDeviceGetUtilizationRates', device);
    return { gpuPercent: buf[0], memoryPercent: buf[1] };
  }

  /** Current SM clock, MHz (nvmlDeviceGetClockInfo with NVML_CLOCK_SM = 1). */
  smClockMhz(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.nvmlDeviceGetClockInfo(h, 1, this.u32a), 'nvmlDeviceGetClockInfo', device);
    return this.u32a[0];
  }

  runningComputeProcesses(h: NvmlDeviceHandle, device?: string): NvmlProcessInfo[] {
    const fn = 'nvmlDeviceGetComputeRunningProcesses_v3';
    const count = new Uint32Array(1);
    // Processes come and go between the two calls: retry with headroom a few times.
    let capacity = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      count[0] = capacity;
      const buf = capacity > 0 ? new Uint8Array(capacity * PROCESS_INFO_SIZE) : null;
      const rc = this.fns[fn](h, count, buf);
      if (rc === NvmlReturn.ERROR_INSUFFICIENT_SIZE) {
        capacity = count[0] + 4;
        continue;
      }
      this.check(rc, fn, device);
      if (!buf) return [];
      const view = new DataView(buf.buffer);
      const out: NvmlProcessInfo[] = [];
      for (let i = 0; i < count[0]; i++) {
        const o = i * PROCESS_INFO_SIZE;
        const mem = view.getBigUint64(o + 8, true);
        out.push({
          pid: view.getUint32(o, true),
          usedGpuMemoryBytes: mem === NVML_VALUE_NOT_AVAILABLE_ULL ? undefined : Number(mem),
          gpuInstanceId: view.getUint32(o + 16, true),
          computeInstanceId: view.getUint32(o + 20, true),
        });
      }
      return out;
    }
    throw new NvmlInsufficientSizeError(`${fn}: the process list kept growing${device ? ` on ${device}` : ''}; try again.`, NvmlReturn.ERROR_INSUFFICIENT_SIZE, fn);
  }

  persistenceMode(h: NvmlDeviceHandle, device?: string): boolean {
    this.check(this.fns.nvmlDeviceGetPersistenceMode(h, this.u32a), 'nvmlDeviceGetPersistenceMode', device);
    return this.u32a[0] === 1;
  }

  migMode(h: NvmlDeviceHandle, device?: string): { current: boolean; pending: boolean } {
    this.check(this.fns.nvmlDeviceGetMigMode(h, this.u32a, this.u32b), 'nvmlDeviceGetMigMode', device);
    return { current: this.u32a[0] === 1, pending: this.u32b[0] === 1 };
  }

  /** Unloads the library handle (after shutdown). */
  unload(): void {
    try {
      this.lib.unload();
    } catch {
      /* already unloaded */
    }
  }
}
