/**
 * May this process set NVML power limits? Found without writing one.
 *
 * NVML offers no read-only check for it: nvml.h documents nvmlDeviceSetPowerManagementLimit as
 * "Requires root/admin permissions", and its only permission query, nvmlDeviceGetAPIRestriction,
 * covers application clocks and auto-boost, not power limits (NVIDIA/go-nvml v0.13.3-0
 * pkg/nvml/nvml.h, nvmlRestrictedAPI_t). The driver's own test is the calling task's capability:
 * `os_is_administrator()` → `NV_IS_SUSER()` → `capable(CAP_SYS_ADMIN)` (NVIDIA/open-gpu-kernel-modules
 * kernel-open/nvidia/os-interface.c, kernel-open/common/inc/nv-linux.h). `capable()` asks the
 * initial user namespace, so capabilities held inside a user namespace (rootless containers) do not
 * count.
 *
 * So on Linux: CAP_SYS_ADMIN in the effective set (/proc/self/status `CapEff`, bit 21) of a process
 * in the initial user namespace (/proc/self/uid_map is the identity map). Elsewhere, or when /proc
 * cannot be read, the answer is unknown and the NVML backend falls back to writing the current
 * limit back (see backends/nvml.ts).
 */
import { readFileSync } from 'node:fs';
import { GpuError } from './errors';

export interface DriverPrivilege {
  admin: boolean;
  /** Why, for the advise message ("no CAP_SYS_ADMIN in the effective capability set"). */
  why: string;
}

const CAP_SYS_ADMIN = 21n;

/** The initial user namespace maps all 2^32 ids onto themselves. */
function inInitialUserNamespace(uidMap: string): boolean {
  const lines = uidMap.trim().split('\n');
  return lines.length === 1 && lines[0].trim().split(/\s+/).join(' ') === '0 0 4294967295';
}

/** Undefined when it cannot tell (not Linux, /proc unreadable or unexpected). */
export function driverPrivilege(platform: NodeJS.Platform = process.platform, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): DriverPrivilege | undefined {
  if (platform !== 'linux') return undefined;
  let status: string;
  let uidMap: string;
  try {
    status = read('/proc/self/status');
    uidMap = read('/proc/self/uid_map');
  } catch {
    return undefined;
  }
  const capEff = /^CapEff:\s*([0-9a-f]+)\s*$/im.exec(status)?.[1];
  if (!capEff) return undefined;
  if (((BigInt(`0x${capEff}`) >> CAP_SYS_ADMIN) & 1n) === 0n) return { admin: false, why: 'no CAP_SYS_ADMIN in its effective capability set' };
  if (!inInitialUserNamespace(uidMap)) return { admin: false, why: 'its CAP_SYS_ADMIN is held inside a user namespace (a rootless container), which the NVIDIA driver does not accept' };
  return { admin: true, why: 'CAP_SYS_ADMIN in the initial user namespace' };
}

/** How the NVML backend decides `control()`: read the capability (auto), or write the current limit back. */
export type PermissionProbe = 'auto' | 'write';

/** CHASE_NVML_PERMISSION_PROBE: `auto` (default) or `write`. */
export function permissionProbeFromEnv(env: NodeJS.ProcessEnv): PermissionProbe {
  const value = (env.CHASE_NVML_PERMISSION_PROBE || 'auto').toLowerCase();
  if (value !== 'auto' && value !== 'write') {
    throw new GpuError(`CHASE_NVML_PERMISSION_PROBE must be auto or write (got "${env.CHASE_NVML_PERMISSION_PROBE}").`, 'BAD_CONFIG');
  }
  return value;
}
