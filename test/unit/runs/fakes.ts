/** Stand-ins for the run parts' dependencies: a lease, a carbon source, GPUs whose counters the test moves. */
import type { CarbonProvider, CarbonReading } from '../../../agent/carbon/provider';
import type { GpuBackend, GpuControl, GpuInfo, GpuReading } from '../../../agent/gpu/backend';
import type { GpuLease, GroupLimitResult } from '../../../agent/gpu/limits';
import type { IntensityPoint } from '../../../agent/protocol/messages';
import { HOUR_MS } from '../../../agent/protocol/units';

/** A lease that records the limits set; `refuse` makes every write fail as NVML does without permission. */
export function fakeLease(o: { control?: GpuControl; refuse?: string; minMw?: number; maxMw?: number } = {}): GpuLease & { set: number[]; released: number } {
  const lease = {
    uuids: ['GPU-fake-0'],
    set: [] as number[],
    released: 0,
    async control(): Promise<GpuControl> {
      return o.control ?? { state: 'permitted' };
    },
    async setLimit(requestedMw: number): Promise<GroupLimitResult> {
      if (o.refuse) throw new Error(o.refuse);
      const appliedMw = Math.max(o.minMw ?? 0, Math.min(o.maxMw ?? Infinity, requestedMw));
      lease.set.push(appliedMw);
      return { requestedMw, appliedMw, clamped: appliedMw !== requestedMw, results: [] };
    },
    async release(): Promise<void> {
      lease.released++;
    },
  };
  return lease;
}

/** Hourly intensities from `byHour(hourIndex)` (hour 0 = epoch hour of `t0`), counting how often it is asked. */
export function fakeCarbon(byHour: (hour: number) => number, t0 = 0): CarbonProvider & { calls: { latest: number; history: number } } {
  const at = (t: number) => byHour(Math.floor((t - t0) / HOUR_MS));
  const calls = { latest: 0, history: 0 };
  return {
    calls,
    info: { kind: 'static', label: 'fake', zone: 'TEST', signal: 'average', attribution: 'test' },
    periodMs: HOUR_MS,
    async latest(nowMs: number): Promise<CarbonReading> {
      calls.latest++;
      const t = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
      return { timestampMs: t, intensityGPerKwh: at(t), fetchedAtMs: nowMs, stale: false };
    },
    async history(fromMs: number, toMs: number): Promise<IntensityPoint[]> {
      calls.history++;
      const out: IntensityPoint[] = [];
      for (let t = Math.ceil(fromMs / HOUR_MS) * HOUR_MS; t < toMs; t += HOUR_MS) out.push({ timestampMs: t, intensityGPerKwh: at(t) });
      return out;
    },
    async forecast() {
      return undefined;
    },
  };
}

export interface FakeGpu {
  info: GpuInfo;
  /** What the next read returns; the test moves it. */
  reading: GpuReading;
}

/** GPUs whose readings the test sets; `activity` when given (utilization × MHz). */
export function fakeBackend(gpus: FakeGpu[], activity?: (index: number) => number | undefined): GpuBackend {
  const find = (i: number) => {
    const g = gpus.find((x) => x.info.index === i);
    if (!g) throw new Error(`no GPU ${i}`);
    return g;
  };
  return {
    kind: 'simulated',
    simulated: true,
    label: 'fake',
    devices: () => gpus.map((g) => g.info),
    read: async (i) => ({ ...find(i).reading }),
    getPowerLimit: async (i) => find(i).reading.powerLimitMw,
    control: async () => ({ state: 'permitted' }),
    setPowerLimit: async (i, mw) => void (find(i).reading.powerLimitMw = mw),
    setPowerLimitSync: (i, mw) => void (find(i).reading.powerLimitMw = mw),
    ...(activity ? { activity } : {}),
    close: async () => undefined,
  };
}

export function gpuInfo(index: number, o: Partial<GpuInfo> = {}): GpuInfo {
  return { index, uuid: `GPU-fake-${index}`, name: 'NVIDIA A40', minLimitMw: 100_000, maxLimitMw: 300_000, defaultLimitMw: 300_000, migEnabled: false, energyCounter: true, ...o };
}
