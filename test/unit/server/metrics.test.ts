import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { ChaseMetrics, MetricsServer } from '../../../agent/server/metrics';
import { snapshot } from './metricsSnapshot';

/**
 * dcgm-exporter's GPU labels at NVIDIA/dcgm-exporter 4.5.3-4.8.2
 * (internal/pkg/rendermetrics/render_metrics.go line 47, default "UUID" label name from
 * internal/pkg/collector/gpu_collector.go lines 167–170):
 *   {gpu="{{ $metric.GPU }}",UUID="{{ $metric.GPUUUID }}",pci_bus_id="…",device="…",modelName="{{ $metric.GPUModelName }}",…}
 * and Kepler's at sustainable-computing-io/kepler v0.11.4
 * (internal/exporter/prometheus/collector/gpuinfo.go line 31): {gpu="<index>",gpu_uuid,gpu_name,vendor}.
 * A line of dcgm-exporter's output in that shape, for the join below.
 */
const DCGM_POWER_LINE = 'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:01:00.0",device="nvidia0",modelName="NVIDIA A40",Hostname="node1"} 212.3';
const labelsOf = (line: string): Record<string, string> => Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));

test('exposition text: names, HELP/TYPE, base units (W, J, g/J), counters from cumulative inputs, build info', async () => {
  const m = new ChaseMetrics({ version: '1.2.3' });
  snapshot(m);
  m.update({ gpus: [{ uuid: 'GPU-aaaa', index: 0, name: 'NVIDIA A40', energyMj: 4_000_000 }], runs: [{ runId: 'r1', emissionsG: 20, savedG: 3 }] });
  m.update({ gpus: [{ uuid: 'GPU-aaaa', index: 0, name: 'NVIDIA A40', energyMj: 10 }] }); // counter reset: no decrease, re-based
  m.update({ gpus: [{ uuid: 'GPU-aaaa', index: 0, name: 'NVIDIA A40', energyMj: 1_010 }] });
  const text = await m.text();
  const gpu0 = 'gpu="0",UUID="GPU-aaaa",modelName="NVIDIA A40"';
  const expectLines = [
    `chase_build_info{version="1.2.3",nodejs_version="${process.version}"} 1`,
    '# TYPE chase_build_info gauge',
    '# TYPE chase_grid_carbon_intensity_grams_per_joule gauge',
    `chase_grid_carbon_intensity_grams_per_joule{zone="GB",source="replay"} ${187.5 / 3.6e6}`,
    '# TYPE chase_gpu_power_limit_watts gauge',
    `chase_gpu_power_limit_watts{${gpu0}} 250`,
    '# TYPE chase_gpu_power_watts gauge',
    `chase_gpu_power_watts{${gpu0}} 212.345`,
    '# TYPE chase_gpu_energy_joules_total counter',
    `chase_gpu_energy_joules_total{${gpu0}} 3001`,
    'chase_gpu_energy_joules_total{gpu="1",UUID="GPU-bbbb",modelName="NVIDIA A40"} 0',
    '# TYPE chase_emissions_grams_total counter',
    'chase_emissions_grams_total{run="r1"} 20',
    '# TYPE chase_run_emissions_saved_grams gauge',
    'chase_run_emissions_saved_grams{run="r1"} 3',
    '# TYPE chase_emissions_saved_grams_total counter',
    'chase_emissions_saved_grams_total{run="r1"} 3',
  ];
  for (const l of expectLines) assert.ok(text.split('\n').includes(l), `missing line: ${l}\n---\n${text}`);
  for (const name of text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0])) {
    // Prometheus naming: snake case, base units, `_total` only on counters, no kWh
    assert.match(name, /^chase_[a-z0-9_]+$/);
    assert.doesNotMatch(name, /milli|_mw|_mj|kwh/, 'base units only');
  }
  for (const type of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) assert.equal(type[1].endsWith('_total'), type[2] === 'counter', `${type[1]} is a ${type[2]}`);
  assert.equal(await globalRegistry.getSingleMetricAsString('chase_gpu_power_watts').catch(() => ''), '', 'not on the global registry');
  // a new zone replaces the old series
  m.update({ intensity: { zone: 'DE', source: 'electricitymaps', intensityGPerKwh: 400 } });
  const t2 = await m.text();
  assert.ok(t2.includes(`chase_grid_carbon_intensity_grams_per_joule{zone="DE",source="electricitymaps"} ${400 / 3.6e6}`));
  assert.ok(!t2.includes('zone="GB"'));
  m.forgetRun('r1');
  assert.ok(!(await m.text()).includes('run="r1"'), 'a forgotten run has no series');
  const withProcess = new ChaseMetrics({ processMetrics: true });
  assert.ok((await withProcess.text()).includes('process_cpu_user_seconds_total'));
  assert.ok(!(await m.text()).includes('process_cpu_user_seconds_total'), 'process metrics are opt-in');
});

test('GPU series carry dcgm-exporter\'s labels: gpu is the index, UUID the id, modelName the model — they join with DCGM_FI_* series', async () => {
  const m = new ChaseMetrics();
  snapshot(m);
  const line = (await m.text()).split('\n').find((l) => l.startsWith('chase_gpu_power_watts{') && l.includes('gpu="0"'));
  assert.ok(line, 'a power series for GPU 0');
  const ours = labelsOf(line);
  const dcgm = labelsOf(DCGM_POWER_LINE);
  for (const label of ['gpu', 'UUID', 'modelName']) assert.equal(ours[label], dcgm[label], `${label} as dcgm-exporter has it`);
  assert.equal(ours.gpu, '0', 'the index, as Kepler\'s gpu label too');
});

test('savings: a per-run gauge follows the estimate down (and below zero); the counter adds only the positive changes', async () => {
  const m = new ChaseMetrics();
  const value = async (name: string) => Number(new RegExp(`^${name}\\{run="r"\\} (\\S+)$`, 'm').exec(await m.text())?.[1]);
  m.update({ runs: [{ runId: 'r', emissionsG: 10, savedG: 3 }] });
  m.update({ runs: [{ runId: 'r', emissionsG: 20, savedG: 2 }] }); // a period that cost 1 g
  assert.equal(await value('chase_run_emissions_saved_grams'), 2);
  assert.equal(await value('chase_emissions_saved_grams_total'), 3, 'a counter never decreases');
  m.update({ runs: [{ runId: 'r', emissionsG: 30, savedG: 4 }] });
  assert.equal(await value('chase_run_emissions_saved_grams'), 4);
  assert.equal(await value('chase_emissions_saved_grams_total'), 5, '3 + 2: the saving periods');
  m.update({ runs: [{ runId: 'r', emissionsG: 40, savedG: -1 }] });
  assert.equal(await value('chase_run_emissions_saved_grams'), -1, 'net saving may be negative');
  assert.equal(await value('chase_emissions_saved_grams_total'), 5);
  m.update({ runs: [{ runId: 'r', emissionsG: 45 }] }); // no estimate in this update: nothing moves
  assert.equal(await value('chase_run_emissions_saved_grams'), -1);
  assert.equal(await value('chase_emissions_grams_total'), 45);
});

test('server: 127.0.0.1 by default, GET /metrics with the Prometheus content type, 404 elsewhere', async () => {
  const m = new ChaseMetrics();
  snapshot(m);
  const server = new MetricsServer(m);
  const { host, url } = await server.start({ port: 0 });
  try {
    assert.equal(host, '127.0.0.1');
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.ok((await res.text()).includes('chase_gpu_power_watts'));
    assert.equal((await fetch(url.replace('/metrics', '/'))).status, 404);
  } finally {
    await server.close();
  }
});
