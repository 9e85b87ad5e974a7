/**
 * Typed GPU errors. NVML return codes are translated here, once, at the FFI edge (like zeus's
 * `_exception_map`): callers catch a class (`NvmlNoPermissionError`, `NvmlGpuLostError`, ...) and
 * show its message, which says what is wrong and what to do. Every error keeps the raw NVML code,
 * the function that returned it and NVML's own string (`cause`).
 */

/** How a user grants the agent control of power limits (never "run VS Code as root"). */
export const GRANT_CONTROL_HELP =
  'To let Chase set power limits, either run zeusd (https://ml.energy/zeus) as root and point Chase at ' +
  'its socket (env CHASE_ZEUSD_SOCKET or ZEUSD_SOCK_PATH), or install `chase-agent serve` as a system ' +
  'service (packaging/systemd/chase-agent.service, see docs/gpu.md). Until then Chase runs in advise mode.';

/** Base of every GPU-layer error. `code` is a short machine-readable name. */
export class GpuError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GpuError';
  }
}

/** nvmlReturn_t values, as nvml.h numbers them (NVIDIA/go-nvml v0.13.3-0 pkg/nvml/nvml.h, NVML API 13). */
export const NvmlReturn = {
  SUCCESS: 0,
  ERROR_UNINITIALIZED: 1,
  ERROR_INVALID_ARGUMENT: 2,
  ERROR_NOT_SUPPORTED: 3,
  ERROR_NO_PERMISSION: 4,
  ERROR_ALREADY_INITIALIZED: 5,
  ERROR_NOT_FOUND: 6,
  ERROR_INSUFFICIENT_SIZE: 7,
  ERROR_INSUFFICIENT_POWER: 8,
  ERROR_DRIVER_NOT_LOADED: 9,
  ERROR_TIMEOUT: 10,
  ERROR_IRQ_ISSUE: 11,
  ERROR_LIBRARY_NOT_FOUND: 12,
  ERROR_FUNCTION_NOT_FOUND: 13,
  ERROR_CORRUPTED_INFOROM: 14,
  ERROR_GPU_IS_LOST: 15,
  ERROR_RESET_REQUIRED: 16,
  ERROR_OPERATING_SYSTEM: 17,
  ERROR_LIB_RM_VERSION_MISMATCH: 18,
  ERROR_IN_USE: 19,
  ERROR_MEMORY: 20,
  ERROR_NO_DATA: 21,
  ERROR_VGPU_ECC_NOT_SUPPORTED: 22,
  ERROR_INSUFFICIENT_RESOURCES: 23,
  ERROR_FREQ_NOT_SUPPORTED: 24,
  ERROR_ARGUMENT_VERSION_MISMATCH: 25,
  ERROR_DEPRECATED: 26,
  ERROR_NOT_READY: 27,
  ERROR_GPU_NOT_FOUND: 28,
  ERROR_INVALID_STATE: 29,
  ERROR_RESET_TYPE_NOT_SUPPORTED: 30,
  ERROR_UNKNOWN: 999,
} as const;

export type NvmlReturnName = keyof typeof NvmlReturn;

const NAME_BY_CODE = new Map<number, NvmlReturnName>(
  (Object.entries(NvmlReturn) as [NvmlReturnName, number][]).map(([name, code]) => [code, name]),
);

/** "ERROR_NO_PERMISSION" for 4; "UNKNOWN_RETURN_CODE_<n>" for codes this table does not know. */
export function nvmlReturnName(code: number): string {
  return NAME_BY_CODE.get(code) ?? `UNKNOWN_RETURN_CODE_${code}`;
}

/** Any NVML failure. `nvmlCode` is the nvmlReturn_t value; `functionName` the NVML entry point. */
export class NvmlError extends GpuError {
  constructor(
    message: string,
    readonly nvmlCode: number,
    readonly functionName: string,
    cause?: unknown,
  ) {
    super(message, nvmlReturnName(nvmlCode), { cause });
    this.name = 'NvmlError';
  }
}

export class NvmlUninitializedError extends NvmlError {
  override name = 'NvmlUninitializedError';
}
export class NvmlInvalidArgumentError extends NvmlError {
  override name = 'NvmlInvalidArgumentError';
}
export class NvmlNotSupportedError extends NvmlError {
  override name = 'NvmlNotSupportedError';
}
export class NvmlNoPermissionError extends NvmlError {
  override name = 'NvmlNoPermissionError';
}
export class NvmlNotFoundError extends NvmlError {
  override name = 'NvmlNotFoundError';
}
export class NvmlInsufficientSizeError extends NvmlError {
  override name = 'NvmlInsufficientSizeError';
}
export class NvmlDriverNotLoadedError extends NvmlError {
  override name = 'NvmlDriverNotLoadedError';
}
export class NvmlTimeoutError extends NvmlError {
  override name = 'NvmlTimeoutError';
}
export class NvmlLibraryNotFoundError extends NvmlError {
  override name = 'NvmlLibraryNotFoundError';
}
export class NvmlFunctionNotFoundError extends NvmlError {
  override name = 'NvmlFunctionNotFoundError';
}
export class NvmlGpuLostError extends NvmlError {
  override name = 'NvmlGpuLostError';
}
export class NvmlResetRequiredError extends NvmlError {
  override name = 'NvmlResetRequiredError';
}
export class NvmlLibRmVersionMismatchError extends NvmlError {
  override name = 'NvmlLibRmVersionMismatchError';
}
export class NvmlInUseError extends NvmlError {
  override name = 'NvmlInUseError';
}
export class NvmlUnknownError extends NvmlError {
  override name = 'NvmlUnknownError';
}

type NvmlErrorClass = new (message: string, nvmlCode: number, functionName: string, cause?: unknown) => NvmlError;

/** The exception map: class and advice per return code. `%f` is the function, `%d` the device. */
const EXCEPTION_MAP = new Map<number, [NvmlErrorClass, string]>([
  [NvmlReturn.ERROR_UNINITIALIZED, [NvmlUninitializedError, 'NVML was not initialized when %f was called (an agent bug, or NVML was shut down): restart the agent.']],
  [NvmlReturn.ERROR_INVALID_ARGUMENT, [NvmlInvalidArgumentError, '%f rejected its arguments%d (for a power limit: outside the GPU\'s constraints, see `chase-agent gpus`).']],
  [NvmlReturn.ERROR_NOT_SUPPORTED, [NvmlNotSupportedError, '%f is not supported%d (this GPU model or driver does not offer it; Chase falls back where it can).']],
  [NvmlReturn.ERROR_NO_PERMISSION, [NvmlNoPermissionError, `%f needs root / CAP_SYS_ADMIN%d. ${GRANT_CONTROL_HELP}`]],
  [NvmlReturn.ERROR_NOT_FOUND, [NvmlNotFoundError, '%f found no such GPU%d: check the UUID or index (`chase-agent gpus` lists them).']],
  [NvmlReturn.ERROR_INSUFFICIENT_SIZE, [NvmlInsufficientSizeError, '%f: buffer too small%d (an agent bug; please report it).']],
  [NvmlReturn.ERROR_INSUFFICIENT_POWER, [NvmlError, '%f: a GPU\'s external power cables are not connected properly%d. Check the PCIe power connectors.']],
  [NvmlReturn.ERROR_DRIVER_NOT_LOADED, [NvmlDriverNotLoadedError, '%f: the NVIDIA kernel driver is not loaded. Install or load it (`sudo modprobe nvidia`; check `dmesg`), then restart the agent. Chase shows simulated GPUs meanwhile.']],
  [NvmlReturn.ERROR_TIMEOUT, [NvmlTimeoutError, '%f timed out%d. The GPU may be busy or hung; try again, and check `dmesg` for Xid errors.']],
  [NvmlReturn.ERROR_IRQ_ISSUE, [NvmlError, '%f: the NVIDIA driver has an interrupt problem%d. Check `dmesg`; a reboot may be needed.']],
  [NvmlReturn.ERROR_LIBRARY_NOT_FOUND, [NvmlLibraryNotFoundError, '%f: the NVML library could not be found. Install the NVIDIA driver, or set CHASE_NVML_LIBRARY to the full path of libnvidia-ml.so.1 / nvml.dll.']],
  [NvmlReturn.ERROR_FUNCTION_NOT_FOUND, [NvmlFunctionNotFoundError, '%f is not exported by this NVML library: the driver is too old. Update the NVIDIA driver.']],
  [NvmlReturn.ERROR_CORRUPTED_INFOROM, [NvmlError, '%f: the GPU\'s infoROM is corrupted%d. Contact your hardware vendor; Chase will not control this GPU.']],
  [NvmlReturn.ERROR_GPU_IS_LOST, [NvmlGpuLostError, '%f: the GPU has fallen off the bus or is otherwise inaccessible%d. Check `dmesg` for Xid 79; the GPU needs a reset or the host a reboot.']],
  [NvmlReturn.ERROR_RESET_REQUIRED, [NvmlResetRequiredError, '%f: the GPU needs a reset%d (`sudo nvidia-smi -r -i <index>` when idle) or the host a reboot.']],
  [NvmlReturn.ERROR_OPERATING_SYSTEM, [NvmlError, '%f: the operating system blocked the request%d (containers: expose the device and /dev/nvidiactl).']],
  [NvmlReturn.ERROR_LIB_RM_VERSION_MISMATCH, [NvmlLibRmVersionMismatchError, '%f: the NVML library and the loaded kernel driver have different versions (the driver was updated but the old module is still loaded). Reboot, or reload the nvidia kernel modules.']],
  [NvmlReturn.ERROR_IN_USE, [NvmlInUseError, '%f: the GPU is in use by another client%d; try again later.']],
  [NvmlReturn.ERROR_MEMORY, [NvmlError, '%f: NVML ran out of memory on the host.']],
  [NvmlReturn.ERROR_NO_DATA, [NvmlError, '%f: no data yet%d; try again.']],
  [NvmlReturn.ERROR_NOT_READY, [NvmlError, '%f: the system is not ready for the request%d; try again.']],
  [NvmlReturn.ERROR_GPU_NOT_FOUND, [NvmlNotFoundError, '%f: no GPU was found%d. Check that the GPU is visible (`ls /dev/nvidia*`).']],
  [NvmlReturn.ERROR_ARGUMENT_VERSION_MISMATCH, [NvmlError, '%f: the struct version does not match this driver. Update the NVIDIA driver.']],
  [NvmlReturn.ERROR_INVALID_STATE, [NvmlError, '%f: the GPU is in an invalid state for this request%d.']],
  [NvmlReturn.ERROR_ALREADY_INITIALIZED, [NvmlError, '%f: NVML was already initialized (an agent bug; please report it).']],
  [NvmlReturn.ERROR_VGPU_ECC_NOT_SUPPORTED, [NvmlNotSupportedError, '%f is not available%d because ECC is enabled on this vGPU.']],
  [NvmlReturn.ERROR_INSUFFICIENT_RESOURCES, [NvmlError, '%f: the driver ran out of resources%d; try again, or free GPU resources.']],
  [NvmlReturn.ERROR_FREQ_NOT_SUPPORTED, [NvmlNotSupportedError, '%f: this frequency is not supported%d.']],
  [NvmlReturn.ERROR_DEPRECATED, [NvmlNotSupportedError, '%f is deprecated by this driver (Chase needs an update for it; please report it).']],
  [NvmlReturn.ERROR_RESET_TYPE_NOT_SUPPORTED, [NvmlNotSupportedError, '%f: this kind of GPU reset is not supported%d.']],
  [NvmlReturn.ERROR_UNKNOWN, [NvmlUnknownError, '%f failed with an internal driver error%d. Check `dmesg` for Xid errors and the driver installation.']],
]);

/**
 * Translates an NVML return code into its typed error. `nvmlText` is what nvmlErrorString returned
 * (kept as the cause); `device` names the GPU in the message ("GPU 0 (GPU-1234...)").
 */
export function nvmlError(code: number, functionName: string, nvmlText?: string, device?: string): NvmlError {
  const entry = EXCEPTION_MAP.get(code);
  const [cls, template] = entry ?? [NvmlUnknownError, `%f failed with an unknown NVML error (code ${code})%d. Check \`dmesg\` and the driver installation.`];
  const message = template.replace('%f', functionName).replace('%d', device ? ` on ${device}` : '');
  const cause = new Error(`${functionName} returned ${code} ${nvmlReturnName(code)}${nvmlText ? ` ("${nvmlText}")` : ''}`);
  return new cls(message, code, functionName, cause);
}
