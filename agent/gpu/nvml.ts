/**
 * NVML through koffi (N-API FFI: no native module tied to one Node ABI). Binds the NVML entry points
 * Chase uses with their nvml.h signatures and translates every non-zero nvmlReturn_t into a typed
 * error (errors.ts) right here, so nothing above this file sees a raw code.
 *
 * Versioned entry points are picked symbol by symbol, newest first, as NVIDIA's own Go bindings do
 * (NVIDIA/go-nvml pkg/nvml/lib.go `updateVersionedSymbols`): driver 470, for one, exports
 * `nvmlDeviceGetComputeRunningProcesses` and `_v2` but not `_v3`. Where an older symbol fills an
 * older struct (`nvmlProcessInfo_v1_t`, 16 bytes, for the unversioned process getter), the reader
 * follows the symbol that was bound.
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

/**
 * nvmlDeviceArchitecture_t values: `NVML_DEVICE_ARCH_*` in nvml.h (NVIDIA/go-nvml v0.13.3-0
 * pkg/nvml/nvml.h; 0, 1, 11 and 12 are unassigned there).
 */
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
  13: 'Rubin',
  // NVML_DEVICE_ARCH_UNKNOWN: "Anything else, presumably something newer"
  0xffffffff: 'newer than this driver names',
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
// nvmlProcessInfo_v2_t = nvmlProcessInfo_t (filled by the _v3 and _v2 getters): u32 pid; (pad 4)
// u64 usedGpuMemory; u32 gpuInstanceId; u32 computeInstanceId. nvmlProcessInfo_v1_t (filled by the
// unversioned getter): u32 pid; (pad 4) u64 usedGpuMemory.
const PROCESS_INFO_V2_SIZE = 24;
const PROCESS_INFO_V1_SIZE = 16;
const NOT_IN_MIG_INSTANCE = 0xffffffff;
// nvmlPciInfo_t.busIdLegacy, at offset 0: what older getters fill when they leave busId empty.
const PCI_BUSID_LEGACY_SIZE = 16;
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

/** A NUL-terminated C string in `buf`. */
function cString(buf: Uint8Array, encoding: BufferEncoding = 'utf8'): string {
  const end = buf.indexOf(0);
  return Buffer.from(buf.buffer, buf.byteOffset, end < 0 ? buf.length : end).toString(encoding);
}

let koffiModule: Koffi | undefined;
function loadKoffi(): Koffi {
  // Loaded lazily: a platform without a koffi prebuild must still run (simulated GPUs).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  koffiModule ??= require('koffi') as Koffi;
  return koffiModule;
}

type Fn = (...args: unknown[]) => number;

/**
 * The entry points Chase calls: its name for each, the exported symbols to try, newest first (as
 * go-nvml), and the C argument types (`dev` = nvmlDevice_t, `outDev` = nvmlDevice_t *).
 */
export const NVML_BINDINGS = [
  ['init', ['nvmlInit_v2', 'nvmlInit'], []],
  ['shutdown', ['nvmlShutdown'], []],
  ['deviceCount', ['nvmlDeviceGetCount_v2', 'nvmlDeviceGetCount'], ['unsigned int *']],
  ['handleByIndex', ['nvmlDeviceGetHandleByIndex_v2', 'nvmlDeviceGetHandleByIndex'], ['unsigned int', 'outDev']],
  ['handleByUuid', ['nvmlDeviceGetHandleByUUID'], ['const char *', 'outDev']],
  ['name', ['nvmlDeviceGetName'], ['dev', 'char *', 'unsigned int']],
  ['uuid', ['nvmlDeviceGetUUID'], ['dev', 'char *', 'unsigned int']],
  ['pciInfo', ['nvmlDeviceGetPciInfo_v3', 'nvmlDeviceGetPciInfo_v2', 'nvmlDeviceGetPciInfo'], ['dev', 'void *']],
  ['architecture', ['nvmlDeviceGetArchitecture'], ['dev', 'unsigned int *']],
  ['powerUsage', ['nvmlDeviceGetPowerUsage'], ['dev', 'unsigned int *']],
  ['totalEnergy', ['nvmlDeviceGetTotalEnergyConsumption'], ['dev', 'unsigned long long *']],
  ['powerLimit', ['nvmlDeviceGetPowerManagementLimit'], ['dev', 'unsigned int *']],
  ['limitConstraints', ['nvmlDeviceGetPowerManagementLimitConstraints'], ['dev', 'unsigned int *', 'unsigned int *']],
  ['defaultLimit', ['nvmlDeviceGetPowerManagementDefaultLimit'], ['dev', 'unsigned int *']],
  ['enforcedLimit', ['nvmlDeviceGetEnforcedPowerLimit'], ['dev', 'unsigned int *']],
  ['setPowerLimit', ['nvmlDeviceSetPowerManagementLimit'], ['dev', 'unsigned int']],
  ['utilization', ['nvmlDeviceGetUtilizationRates'], ['dev', 'unsigned int *']], // nvmlUtilization_t { unsigned int gpu, memory; }
  ['clockInfo', ['nvmlDeviceGetClockInfo'], ['dev', 'unsigned int', 'unsigned int *']], // (device, nvmlClockType_t, unsigned int *clock MHz)
  ['computeProcesses', ['nvmlDeviceGetComputeRunningProcesses_v3', 'nvmlDeviceGetComputeRunningProcesses_v2', 'nvmlDeviceGetComputeRunningProcesses'], ['dev', 'unsigned int *', 'void *']],
  ['persistenceMode', ['nvmlDeviceGetPersistenceMode'], ['dev', 'unsigned int *']], // nvmlEnableState_t *
  ['migMode', ['nvmlDeviceGetMigMode'], ['dev', 'unsigned int *', 'unsigned int *']],
] as const satisfies readonly (readonly [string, readonly string[], readonly string[]])[];

export type NvmlBindingName = (typeof NVML_BINDINGS)[number][0];

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
  private readonly fns = {} as Record<NvmlBindingName, Fn>;
  /** The symbol each entry point was bound to; undefined where this library exports none of them. */
  readonly symbols = {} as Record<NvmlBindingName, string | undefined>;
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
    for (const [name, candidates, args] of NVML_BINDINGS) {
      const types = args.map((a: string) => (a === 'dev' ? dev : a === 'outDev' ? outDev : a));
      const symbol = candidates.find((candidate: string) => {
        try {
          this.fns[name] = lib.func(candidate, 'int', types) as Fn;
          return true;
        } catch {
          return false; // not exported by this driver: try the next older symbol
        }
      });
      this.symbols[name] = symbol;
      // Exported under no name (a driver too old): only the calls that need it fail, FUNCTION_NOT_FOUND.
      if (!symbol) this.fns[name] = () => NvmlReturn.ERROR_FUNCTION_NOT_FOUND;
    }
    try {
      this.errorStringFn = lib.func('nvmlErrorString', 'const char *', ['int']) as (code: number) => string;
    } catch {
      this.errorStringFn = undefined;
    }
  }

  /** The symbol entry point `name` is bound to (its newest name where none is), for messages. */
  private symbolOf(name: NvmlBindingName): string {
    return this.symbols[name] ?? (NVML_BINDINGS.find((b) => b[0] === name)?.[1][0] as string);
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

  /** Throws the typed error for a failed call of entry point `name`; `rc` is not SUCCESS. */
  private check(rc: number, name: NvmlBindingName, device?: string): void {
    if (rc !== NvmlReturn.SUCCESS) throw nvmlError(rc, this.symbolOf(name), this.errorString(rc), device);
  }

  get isInitialized(): boolean {
    return this.initialized;
  }

  init(): void {
    this.check(this.fns.init(), 'init');
    this.initialized = true;
  }

  shutdown(): void {
    if (!this.initialized) return;
    this.initialized = false;
    this.check(this.fns.shutdown(), 'shutdown');
  }

  deviceCount(): number {
    this.check(this.fns.deviceCount(this.u32a), 'deviceCount');
    return this.u32a[0];
  }

  handleByIndex(index: number): NvmlDeviceHandle {
    const out: unknown[] = [null];
    this.check(this.fns.handleByIndex(index, out), 'handleByIndex', `GPU ${index}`);
    return out[0] as NvmlDeviceHandle;
  }

  handleByUuid(uuid: string): NvmlDeviceHandle {
    const out: unknown[] = [null];
    this.check(this.fns.handleByUuid(uuid, out), 'handleByUuid', uuid);
    return out[0] as NvmlDeviceHandle;
  }

  private readString(name: 'name' | 'uuid', h: NvmlDeviceHandle, size: number, device?: string): string {
    const buf = size === NAME_BUFFER_SIZE ? this.nameBuf : new Uint8Array(size);
    buf.fill(0);
    this.check(this.fns[name](h, buf, size), name, device);
    return cString(buf);
  }

  name(h: NvmlDeviceHandle, device?: string): string {
    return this.readString('name', h, NAME_BUFFER_SIZE, device);
  }

  uuid(h: NvmlDeviceHandle, device?: string): string {
    return this.readString('uuid', h, UUID_BUFFER_SIZE, device);
  }

  /** The domain:bus:device.function id, e.g. "00000000:01:00.0" (nvmlPciInfo_t.busId, else busIdLegacy). */
  pciBusId(h: NvmlDeviceHandle, device?: string): string {
    this.pciBuf.fill(0);
    this.check(this.fns.pciInfo(h, this.pciBuf), 'pciInfo', device);
    return cString(this.pciBuf.subarray(PCI_BUSID_OFFSET, PCI_BUSID_OFFSET + PCI_BUSID_SIZE), 'latin1') || cString(this.pciBuf.subarray(0, PCI_BUSID_LEGACY_SIZE), 'latin1');
  }

  /** nvmlDeviceArchitecture_t (5 = Volta, 7 = Ampere, ...; see NvmlArchitecture). */
  architecture(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.architecture(h, this.u32a), 'architecture', device);
    return this.u32a[0];
  }

  powerUsageMw(h: NvmlDeviceHandle, device?: string): number {
    const rc = this.fns.powerUsage(h, this.u32a);
    if (rc !== 0) this.check(rc, 'powerUsage', device);
    return this.u32a[0];
  }

  /** Energy since the driver was last reloaded, mJ (Volta and newer). */
  totalEnergyMj(h: NvmlDeviceHandle, device?: string): number {
    const rc = this.fns.totalEnergy(h, this.u64);
    if (rc !== 0) this.check(rc, 'totalEnergy', device);
    // Little-endian halves (x86-64, arm64); exact below 2^53 mJ (~2.5 GWh).
    return this.u64Halves[0] + this.u64Halves[1] * 4294967296;
  }

  powerLimitMw(h: NvmlDeviceHandle, device?: string): number {
    const rc = this.fns.powerLimit(h, this.u32a);
    if (rc !== 0) this.check(rc, 'powerLimit', device);
    return this.u32a[0];
  }

  limitConstraintsMw(h: NvmlDeviceHandle, device?: string): { minMw: number; maxMw: number } {
    this.check(this.fns.limitConstraints(h, this.u32a, this.u32b), 'limitConstraints', device);
    return { minMw: this.u32a[0], maxMw: this.u32b[0] };
  }

  defaultLimitMw(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.defaultLimit(h, this.u32a), 'defaultLimit', device);
    return this.u32a[0];
  }

  /** The limit actually enforced (the minimum of all limiters, e.g. also an in-band/out-of-band cap). */
  enforcedLimitMw(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.enforcedLimit(h, this.u32a), 'enforcedLimit', device);
    return this.u32a[0];
  }

  /** Needs root / CAP_SYS_ADMIN (NvmlNoPermissionError otherwise). */
  setPowerLimitMw(h: NvmlDeviceHandle, limitMw: number, device?: string): void {
    this.check(this.fns.setPowerLimit(h, Math.round(limitMw)), 'setPowerLimit', device);
  }

  utilization(h: NvmlDeviceHandle, device?: string): { gpuPercent: number; memoryPercent: number } {
    const buf = this.util;
    this.check(this.fns.utilization(h, buf), 'utilization', device);
    return { gpuPercent: buf[0], memoryPercent: buf[1] };
  }

  /** Current SM clock, MHz (nvmlDeviceGetClockInfo with NVML_CLOCK_SM = 1). */
  smClockMhz(h: NvmlDeviceHandle, device?: string): number {
    this.check(this.fns.clockInfo(h, 1, this.u32a), 'clockInfo', device);
    return this.u32a[0];
  }

  runningComputeProcesses(h: NvmlDeviceHandle, device?: string): NvmlProcessInfo[] {
    // The unversioned getter fills nvmlProcessInfo_v1_t (no MIG ids); _v2 and _v3 the 24-byte struct.
    const v1 = this.symbols.computeProcesses === 'nvmlDeviceGetComputeRunningProcesses';
    const stride = v1 ? PROCESS_INFO_V1_SIZE : PROCESS_INFO_V2_SIZE;
    const count = new Uint32Array(1);
    // Processes come and go between the two calls: retry with headroom a few times.
    let capacity = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      count[0] = capacity;
      const buf = capacity > 0 ? new Uint8Array(capacity * stride) : null;
      const rc = this.fns.computeProcesses(h, count, buf);
      if (rc === NvmlReturn.ERROR_INSUFFICIENT_SIZE) {
        capacity = count[0] + 4;
        continue;
      }
      this.check(rc, 'computeProcesses', device);
      if (!buf) return [];
      const view = new DataView(buf.buffer);
      const out: NvmlProcessInfo[] = [];
      for (let i = 0; i < count[0]; i++) {
        const o = i * stride;
        const mem = view.getBigUint64(o + 8, true);
        out.push({
          pid: view.getUint32(o, true),
          usedGpuMemoryBytes: mem === NVML_VALUE_NOT_AVAILABLE_ULL ? undefined : Number(mem),
          gpuInstanceId: v1 ? NOT_IN_MIG_INSTANCE : view.getUint32(o + 16, true),
          computeInstanceId: v1 ? NOT_IN_MIG_INSTANCE : view.getUint32(o + 20, true),
        });
      }
      return out;
    }
    const fn = this.symbolOf('computeProcesses');
    throw new NvmlInsufficientSizeError(`${fn}: the process list kept growing${device ? ` on ${device}` : ''}; try again.`, NvmlReturn.ERROR_INSUFFICIENT_SIZE, fn);
  }

  persistenceMode(h: NvmlDeviceHandle, device?: string): boolean {
    this.check(this.fns.persistenceMode(h, this.u32a), 'persistenceMode', device);
    return this.u32a[0] === 1;
  }

  migMode(h: NvmlDeviceHandle, device?: string): { current: boolean; pending: boolean } {
    this.check(this.fns.migMode(h, this.u32a, this.u32b), 'migMode', device);
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
