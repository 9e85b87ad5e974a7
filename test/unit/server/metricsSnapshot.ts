import type { ChaseMetrics } from '../../../agent/server/metrics';

/** One agent's worth of metrics: a replay intensity, two A40s, one run (the unit tests and the Prometheus contract test read it back). */
export function snapshot(m: ChaseMetrics): void {
  m.update({
    intensity: { zone: 'GB', source: 'replay', intensityGPerKwh: 187.5 },
    gpus: [
      { uuid: 'GPU-aaaa', index: 0, name: 'NVIDIA A40', powerMw: 212_345, powerLimitMw: 250_000, energyMj: 1_000_000 },
      { uuid: 'GPU-bbbb', index: 1, name: 'NVIDIA A40', powerMw: 100_000, powerLimitMw: 200_000, energyMj: 5_000 },
    ],
    runs: [{ runId: 'r1', emissionsG: 12.5, savedG: 2 }],
  });
}
