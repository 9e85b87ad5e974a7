/**
 * CUDA_VISIBLE_DEVICES: which GPUs a training job (and so Chase) may touch. Entries are CUDA
 * indices ("0,2"), GPU UUIDs or unique UUID prefixes ("GPU-8f3a", the "GPU-" may be left out), or
 * MIG instance UUIDs ("MIG-..."). As in CUDA, parsing stops at the first entry that matches nothing.
 *
 * Indices: NVML numbers GPUs in PCI bus order; CUDA does so only with CUDA_DEVICE_ORDER=PCI_BUS_ID
 * (its default, FASTEST_FIRST, may differ on mixed-GPU hosts), so an index is mapped as an NVML
 * index with a warning unless that variable is set. UUIDs are exact.
 *
 * MIG instances are refused: a power limit belongs to the whole physical GPU and would throttle
 * every other instance's tenant.
 */
import type { GpuInfo } from './backend';

export interface Visibility {
  /** The visible GPUs, in CUDA_VISIBLE_DEVICES order (all GPUs when the variable is unset). */
  devices: GpuInfo[];
  /** Why some entries were refused (MIG instances). */
  refused: string[];
  warnings: string[];
  /** The raw variable, when set. */
  cudaVisibleDevices?: string;
}

export const MIG_REFUSAL =
  'is a MIG instance: power limits apply to the whole physical GPU and would slow every other MIG instance on it, so Chase does not control MIG instances. Run on a full GPU (MIG disabled) to use power control.';

export function resolveVisibleDevices(all: GpuInfo[], env: NodeJS.ProcessEnv = process.env): Visibility {
  const raw = env.CUDA_VISIBLE_DEVICES;
  if (raw === undefined) return { devices: all, refused: [], warnings: [] };
  const devices: GpuInfo[] = [];
  const refused: string[] = [];
  const warnings: string[] = [];
  const entries = raw.split(',').map((s) => s.trim());
  let warnedOrder = false;
  for (const entry of entries) {
    if (entry === '') break;
    let match: GpuInfo | undefined;
    if (/^MIG-/i.test(entry)) {
      refused.push(`CUDA_VISIBLE_DEVICES entry ${entry} ${MIG_REFUSAL}`);
      continue;
    }
    if (/^-?\d+$/.test(entry)) {
      const index = Number(entry);
      match = all.find((d) => d.index === index);
      if (match && !warnedOrder && env.CUDA_DEVICE_ORDER !== 'PCI_BUS_ID' && all.length > 1) {
        warnings.push('CUDA_VISIBLE_DEVICES uses indices but CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA may number GPUs differently from NVML. Set CUDA_DEVICE_ORDER=PCI_BUS_ID, or use GPU UUIDs.');
        warnedOrder = true;
      }
    } else {
      const prefix = (/^GPU-/i.test(entry) ? entry : `GPU-${entry}`).toLowerCase();
      const candidates = all.filter((d) => d.uuid.toLowerCase().startsWith(prefix) || d.uuid.toLowerCase() === entry.toLowerCase());
      if (candidates.length > 1) {
        warnings.push(`CUDA_VISIBLE_DEVICES entry ${entry} matches ${candidates.length} GPUs; CUDA stops here.`);
        break;
      }
      match = candidates[0];
    }
    if (!match) {
      warnings.push(`CUDA_VISIBLE_DEVICES entry "${entry}" matches no GPU; CUDA ignores it and every entry after it.`);
      break;
    }
    if (devices.includes(match)) {
      warnings.push(`CUDA_VISIBLE_DEVICES lists GPU ${match.index} twice; CUDA stops here.`);
      break;
    }
    devices.push(match);
  }
  return { devices, refused, warnings, cudaVisibleDevices: raw };
}
