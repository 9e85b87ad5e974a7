import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { ChaseMetrics, MetricsServer } from '../../../agent/store/metrics';
import { tempDir } from './helpers';

const PROMETHEUS = process.env.CHASE_PROMETHEUS ?? '/usr/bin/prometheus';

function snapshot(m: ChaseMetrics): void {
  m.update({
    intensity: { zone: 'GB', source: 'replay', intensityGPerKwh: 187.5 },
    gpus: [
      { uuid: 'GPU-aaaa', index: 0, powerMw: 212_345, powerLimitMw: 250_000, energyMj: 1_000_000 },
      { uuid: 'GPU-bbbb', index: 1, powerMw: 100_000, powerLimitMw: 200_000, energyMj: 5_000 },
    ],
    runs: [{ runId: 'r1', emissionsG: 12.5, savedG: 2 }],
  });
}

test('exposition text: names, HELP/TYPE, base units (W not mW, J not mJ), counters from cumulative inputs', async () => {
  const m = new ChaseMetrics();
  snapshot(m);
  m.update({ gpus: [{ uuid: 'GPU-aaaa', index: 0, energyMj: 4_000_000 }], runs: [{ runId: 'r1', emissionsG: 20, savedG: 3 }] });
  m.update({ gpus: [{ uuid: 'GPU-aaaa', index: 0, energyMj: 10 }] }); // counter reset: no decrease, re-based
  m.update({ gpus: [{ uuid: 'GPU-aaaa', index: 0, energyMj: 1_010 }] });
  const text = await m.text();
  const expectLines = [
    '# HELP chase_grid_carbon_intensity_grams_per_kwh Carbon intensity of the grid, grams CO2eq per kWh.',
    '# TYPE chase_grid_carbon_intensity_grams_per_kwh gauge',
    'chase_grid_carbon_intensity_grams_per_kwh{zone="GB",source="replay"} 187.5',
    '# TYPE chase_gpu_power_limit_watts gauge',
    'chase_gpu_power_limit_watts{gpu="GPU-aaaa",index="0"} 250',
    '# TYPE chase_gpu_power_watts gauge',
    'chase_gpu_power_watts{gpu="GPU-aaaa",index="0"} 212.345',
    '# TYPE chase_gpu_energy_joules_total counter',
    'chase_gpu_energy_joules_total{gpu="GPU-aaaa",index="0"} 3001',
    'chase_gpu_energy_joules_total{gpu="GPU-bbbb",index="1"} 0',
    '# TYPE chase_emissions_grams_total counter',
    'chase_emissions_grams_total{run="r1"} 20',
    '# TYPE chase_emissions_saved_grams_total counter',
    'chase_emissions_saved_grams_total{run="r1"} 3',
  ];
  for (const l of expectLines) assert.ok(text.split('\n').includes(l), `missing line: ${l}\n---\n${text}`);
  for (const name of text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0])) {
    assert.match(name, /^chase_[a-z0-9_]+$/);
    assert.doesNotMatch(name, /milli|_mw|_mj|_kwh_total/, 'base units only');
  }
  assert.equal(await globalRegistry.getSingleMetricAsString('chase_gpu_power_watts').catch(() => ''), '', 'not on the global registry');
  // a new zone replaces the old series
  m.update({ intensity: { zone: 'DE', source: 'electricitymaps', intensityGPerKwh: 400 } });
  const t2 = await m.text();
  assert.ok(t2.includes('chase_grid_carbon_intensity_grams_per_kwh{zone="DE",source="electricitymaps"} 400'));
  assert.ok(!t2.includes('zone="GB"'));
  m.forgetRun('r1');
  assert.ok(!(await m.text()).includes('run="r1"'), 'a forgotten run has no series');
  const withProcess = new ChaseMetrics({ processMetrics: true });
  assert.ok((await withProcess.text()).includes('process_cpu_user_seconds_total'));
  assert.ok(!(await m.text()).includes('process_cpu_user_seconds_total'), 'process metrics are opt-in');
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

test('a real Prometheus scrapes /metrics and answers a query with the expected series and value', async () => {
  assert.ok(
    existsSync(PROMETHEUS),
    `Prometheus is not installed (${PROMETHEUS} missing). Install the Debian package: apt-get install -y prometheus (or set CHASE_PROMETHEUS to the binary). This test does not skip.`,
  );
  const m = new ChaseMetrics();
  snapshot(m);
  const server = new MetricsServer(m);
  const { port: target } = await server.start({ port: 0 });
  const { dir, cleanup } = tempDir('chase-prom-');
  let prom: ChildProcess | undefined;
  const kill = (): void => {
    if (prom && prom.exitCode === null && prom.signalCode === null) prom.kill('SIGKILL');
  };
  process.once('exit', kill);
  let log = '';
  try {
    const webPort = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: chase\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:${target}']\n`);
    prom = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    prom.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const query = `http://127.0.0.1:${webPort}/api/v1/query?query=chase_grid_carbon_intensity_grams_per_kwh`;
    type Answer = { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    let answer: Answer | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      assert.equal(prom.exitCode, null, `prometheus exited: ${log}`);
      try {
        const res = await fetch(query);
        if (res.ok) {
          answer = (await res.json()) as Answer;
          if (answer.data.result.length > 0) break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(answer && answer.data.result.length === 1, `no series after 30 s: ${JSON.stringify(answer)}\n${log}`);
    const [series] = answer.data.result;
    assert.equal(series.metric.__name__, 'chase_grid_carbon_intensity_grams_per_kwh');
    assert.equal(series.metric.zone, 'GB');
    assert.equal(series.metric.source, 'replay');
    assert.equal(series.metric.job, 'chase');
    assert.equal(Number(series.value[1]), 187.5);
    const power = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=chase_gpu_power_watts{index="0"}`)).json()) as Answer;
    assert.equal(Number(power.data.result[0]?.value[1]), 212.345);
  } finally {
    kill();
    if (prom && prom.exitCode === null && prom.signalCode === null) await new Promise((r) => prom?.once('exit', r));
    process.off('exit', kill);
    await server.close();
    cleanup();
  }
});
