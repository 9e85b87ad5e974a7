/**
 * A real Prometheus (Debian's `prometheus` binary) scrapes the agent's /metrics endpoint
 * (agent/server/metrics.ts) and answers PromQL queries with the series, labels and values we expose.
 * A contract test, not a unit test: it spawns Prometheus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChaseMetrics, MetricsServer } from '../../agent/server/metrics';
import { snapshot } from '../unit/server/metricsSnapshot';
import { tempDir } from '../unit/store/helpers';
import { freePort } from './net';

const PROMETHEUS = process.env.CHASE_PROMETHEUS ?? '/usr/bin/prometheus';

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
    const query = `http://127.0.0.1:${webPort}/api/v1/query?query=chase_grid_carbon_intensity_grams_per_joule`;
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
    assert.equal(series.metric.__name__, 'chase_grid_carbon_intensity_grams_per_joule');
    assert.equal(series.metric.zone, 'GB');
    assert.equal(series.metric.source, 'replay');
    assert.equal(series.metric.job, 'chase');
    assert.equal(Number(series.value[1]), 187.5 / 3.6e6);
    // dcgm-exporter's selectors work unchanged on Chase's series (gpu index, UUID, modelName)
    const power = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent('chase_gpu_power_watts{gpu="0",UUID="GPU-aaaa",modelName="NVIDIA A40"}')}`)).json()) as Answer;
    assert.equal(Number(power.data.result[0]?.value[1]), 212.345);
    // g/kWh back from base units in PromQL, as a dashboard shows it
    const perKwh = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent('chase_grid_carbon_intensity_grams_per_joule * 3.6e6')}`)).json()) as Answer;
    assert.ok(Math.abs(Number(perKwh.data.result[0]?.value[1]) - 187.5) < 1e-9);
    const build = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=chase_build_info`)).json()) as Answer;
    assert.equal(build.data.result[0]?.metric.nodejs_version, process.version);
  } finally {
    kill();
    if (prom && prom.exitCode === null && prom.signalCode === null) await new Promise((r) => prom?.once('exit', r));
    process.off('exit', kill);
    await server.close();
    cleanup();
  }
});
