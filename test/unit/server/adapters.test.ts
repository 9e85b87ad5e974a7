import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forecastRecords, intensityRecord, metricsGpus, metricsIntensity, sampleRecords } from '../../../agent/server/adapters';
import type { CarbonStatus } from '../../../agent/protocol/messages';

const ok: CarbonStatus = {
  state: 'ok',
  source: { kind: 'replay', label: 'replay GB 2023', zone: 'GB', signal: 'average', attribution: 'x' },
  intensityGPerKwh: 123,
  timestampMs: 1000,
  periodMs: 3_600_000,
  fetchedAtMs: 1001,
  stale: false,
};

test('adapters: sampler samples and carbon status into store rows and metrics updates', () => {
  const s = [{ uuid: 'GPU-a', index: 0, timestampMs: 5, powerMw: 100, powerLimitMw: 200, energyMj: 7, energySource: 'counter' as const }];
  assert.deepEqual(sampleRecords(s), [{ timestampMs: 5, gpuUuid: 'GPU-a', powerMw: 100, powerLimitMw: 200, energyMj: 7 }]);
  assert.deepEqual(metricsGpus(s), [{ uuid: 'GPU-a', index: 0, powerMw: 100, powerLimitMw: 200, energyMj: 7 }]);
  assert.deepEqual(intensityRecord(ok), { zone: 'GB', source: 'replay', timestampMs: 1000, intensityGPerKwh: 123 });
  assert.equal(intensityRecord({ state: 'error', message: 'm', code: 3002 }), null);
  assert.deepEqual(metricsIntensity(ok), { zone: 'GB', source: 'replay', intensityGPerKwh: 123 });
  assert.deepEqual(forecastRecords('GB', 'svr', 50, [{ timestampMs: 60, intensityGPerKwh: 9, lowGPerKwh: 8 }]), [
    { zone: 'GB', source: 'svr', timestampMs: 60, intensityGPerKwh: 9, forecastVintageMs: 50, lowGPerKwh: 8 },
  ]);
});
