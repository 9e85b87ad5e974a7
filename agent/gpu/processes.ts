/**
 * Processes on the GPUs, as the backend lists them (NVML, directly or beside zeusd), with their
 * command lines where /proc lets this user read them: what a user picks a notebook kernel from, and
 * how a run attached by PID finds its GPUs.
 */
import { readFileSync } from 'node:fs';
import type { GpuProcess } from '../protocol/messages';
import type { OpenedGpus } from './index';

/** Processes the backend lists on the visible GPUs; none where it cannot list them. */
export function gpuProcesses(gpu: Pick<OpenedGpus, 'backend' | 'visibility'>): GpuProcess[] {
  const { backend } = gpu;
  if (!backend.processes) return [];
  const byPid = new Map<number, number[]>();
  for (const d of gpu.visibility.devices) for (const x of backend.processes(d.index)) byPid.set(x.pid, [...(byPid.get(x.pid) ?? []), d.index]);
  return [...byPid].map(([pid, gpuIndices]) => {
    let commandLine: string | undefined;
    try {
      commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || undefined;
    } catch {
      /* another user's process, or not Linux */
    }
    return { pid, gpuIndices, ...(commandLine ? { commandLine } : {}) };
  });
}

/** The GPUs on which the backend lists `pid` as a compute process; undefined when it cannot tell. */
export function gpusOfProcess(gpu: Pick<OpenedGpus, 'backend' | 'visibility'>, pid: number): number[] | undefined {
  return gpuProcesses(gpu).find((p) => p.pid === pid)?.gpuIndices;
}
