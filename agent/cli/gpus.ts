import type { CliCommand } from './command';
import { parseCli } from './command';
import { openGpusForLimits } from '../gpu/index';
import { ServiceLimits } from '../gpu/serviceLimits';
import { LimitJournal } from '../gpu/safety/journal';
import { createLogger, describeError } from '../log';
import { millijoulesToJoules } from '../protocol/accounting';
import { formatWatts } from '../protocol/format';

export interface GpuListEntry {
  index: number;
  uuid: string;
  name: string;
  busId?: string;
  architecture?: string;
  backend: 'nvml' | 'zeusd' | 'simulated';
  simulated: boolean;
  powerLimitMw: number | null;
  defaultLimitMw: number;
  minLimitMw: number;
  maxLimitMw: number;
  powerMw: number | null;
  /** The hardware energy counter (mJ since driver load), or null where the GPU has none. */
  energyMj: number | null;
  control: 'permitted' | 'advise';
  controlReason?: string;
  readError?: string;
}

export interface GpuListResult {
  backend: { kind: 'nvml' | 'zeusd' | 'simulated'; label: string; simulated: boolean };
  notes: string[];
  cudaVisibleDevices?: string;
  refused: string[];
  warnings: string[];
  /** Limits journaled by agents that are no longer running (restored by the next `serve`). */
  leftoverLimits: number;
  gpus: GpuListEntry[];
}

export async function listGpus(env: NodeJS.ProcessEnv = process.env): Promise<GpuListResult> {
  const { backend, notes, visibility, serviceSocket } = await openGpusForLimits({ env });
  // with CHASE_AGENT_SOCKET, whether limits can be set is the service's answer, not this user's NVML's
  const service = serviceSocket ? new ServiceLimits(serviceSocket, backend, createLogger('gpus')) : undefined;
  if (serviceSocket) notes.push(`Power limits are set by the Chase service at ${serviceSocket}.`);
  try {
    const gpus: GpuListEntry[] = [];
    for (const d of visibility.devices) {
      const control = await (service ?? backend).control(d.index);
      const entry: GpuListEntry = {
        index: d.index,
        uuid: d.uuid,
        name: d.name,
        busId: d.busId,
        architecture: d.architecture,
        backend: backend.kind,
        simulated: backend.simulated,
        powerLimitMw: null,
        defaultLimitMw: d.defaultLimitMw,
        minLimitMw: d.minLimitMw,
        maxLimitMw: d.maxLimitMw,
        powerMw: null,
        energyMj: null,
        control: control.state,
      };
      if (control.state === 'advise') entry.controlReason = control.reason;
      try {
        const r = await backend.read(d.index);
        entry.powerLimitMw = r.powerLimitMw;
        entry.powerMw = r.powerMw;
        entry.energyMj = r.energyMj ?? null;
      } catch (e) {
        entry.readError = describeError(e);
      }
      gpus.push(entry);
    }
    let leftoverLimits = 0;
    try {
      leftoverLimits = new LimitJournal().orphaned().length;
    } catch {
      leftoverLimits = 0;
    }
    return {
      backend: { kind: backend.kind, label: backend.label, simulated: backend.simulated },
      notes,
      cudaVisibleDevices: visibility.cudaVisibleDevices,
      refused: visibility.refused,
      warnings: visibility.warnings,
      leftoverLimits,
      gpus,
    };
  } finally {
    await service?.restoreAll();
    await backend.close();
  }
}

const w = (mw: number | null): string => (mw === null ? '-' : formatWatts(mw, 1));

function renderText(r: GpuListResult): string {
  const lines: string[] = [];
  lines.push(`Backend: ${r.backend.label}${r.backend.simulated ? '  [SIMULATED — no real GPU is being read or controlled]' : ''}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  if (r.cudaVisibleDevices !== undefined) lines.push(`CUDA_VISIBLE_DEVICES=${r.cudaVisibleDevices}`);
  for (const n of [...r.refused, ...r.warnings]) lines.push(`  warning: ${n}`);
  if (r.leftoverLimits > 0) lines.push(`  warning: ${r.leftoverLimits} power limit(s) left by an agent that is no longer running; the next \`chase-agent serve\` restores them.`);
  if (r.gpus.length === 0) lines.push('No GPUs.');
  for (const g of r.gpus) {
    lines.push('');
    lines.push(`GPU ${g.index}: ${g.name}  ${g.uuid}${g.busId ? `  ${g.busId}` : ''}  [${g.backend}]`);
    lines.push(`  limit ${w(g.powerLimitMw)} (default ${w(g.defaultLimitMw)}, range ${w(g.minLimitMw)}–${w(g.maxLimitMw)})  power ${w(g.powerMw)}  energy ${g.energyMj === null ? '-' : `${millijoulesToJoules(g.energyMj).toFixed(1)} J`}`);
    lines.push(`  control: ${g.control}${g.controlReason ? ` — ${g.controlReason}` : ''}`);
    if (g.readError) lines.push(`  read error: ${g.readError}`);
  }
  return lines.join('\n');
}

export const gpusCommand: CliCommand = {
  name: 'gpus',
  summary: 'list GPUs: limits (mW), power, energy, backend (nvml | zeusd | simulated), control or advise mode',
  usage: `chase-agent gpus [--json]

Lists the GPUs this agent would manage (after CUDA_VISIBLE_DEVICES): index, UUID, name, backend,
current/default/min/max power limit, power, energy counter, and whether Chase may set limits
("permitted") or only advise ("advise", with the reason and how to grant control).
With no NVIDIA driver it shows simulated GPUs and says so.

  --json   machine-readable output (limits and power in mW, energy in mJ)

Environment: CHASE_GPU_BACKEND (auto|nvml|zeusd|simulated), CHASE_NVML_LIBRARY,
CHASE_ZEUSD_SOCKET / ZEUSD_SOCK_PATH / ZEUSD_HOST_PORT, CHASE_ZEUSD_TOKEN / ZEUSD_TOKEN,
CHASE_NVML_PERMISSION_PROBE (auto|write), CHASE_SIMULATED_GPUS, CUDA_VISIBLE_DEVICES.`,
  async run(argv) {
    const { values } = parseCli(argv, { json: { type: 'boolean', default: false } });
    const result = await listGpus();
    process.stdout.write((values.json ? JSON.stringify(result, null, 2) : renderText(result)) + '\n');
    return 0;
  },
};
