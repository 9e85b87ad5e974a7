/**
 * The agent's Prometheus endpoint: from chase.metrics.* (on only when enabled, moved and stopped by
 * chase/configure), or from `serve --metrics HOST:PORT` / CHASE_METRICS — one per agent process,
 * serving with no editor attached.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Methods, type AgentInfo, type AgentSettings } from '../../agent/protocol/messages';
import { createMessageConnection, ErrorCodes, ResponseError, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { freePort } from './net';
import { agentJs, initialize, runAgentCli, shutdown, spawnAgent, type AgentUnderTest } from './agentProcess';

const carbon: AgentSettings['carbon'] = { provider: 'replay', zone: 'GB', replaySpeed: 1 };

async function scrape(port: number): Promise<{ status: number; body: string } | 'refused'> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    return { status: res.status, body: await res.text() };
  } catch {
    return 'refused';
  }
}

/** Scrapes until `ok(body)` or the deadline. */
async function scrapeUntil(port: number, ok: (body: string) => boolean, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    const r = await scrape(port);
    if (r !== 'refused') {
      last = r.body;
      if (ok(last)) return last;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.fail(`no matching /metrics within ${ms} ms; last body:\n${last}`);
}

const sample = (body: string, name: string): { labels: string; value: number }[] =>
  [...body.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))].map((m) => ({ labels: m[1] ?? '', value: Number(m[2]) }));

describe('metrics endpoint', () => {
  const agents: AgentUnderTest[] = [];
  after(() => {
    for (const a of agents) if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
  });

  it('enabled: serves the grid intensity (zone/source labels) and the GPU power limit', async () => {
    const port = await freePort();
    const agent = spawnAgent({ CHASE_HISTORY: 'off' });
    agents.push(agent);
    await initialize(agent, { settings: { carbon, metrics: { enabled: true, host: '127.0.0.1', port } } });
    const body = await scrapeUntil(port, (b) => sample(b, 'chase_grid_carbon_intensity_grams_per_joule').length > 0 && sample(b, 'chase_gpu_power_limit_watts').length > 0);
    const [intensity] = sample(body, 'chase_grid_carbon_intensity_grams_per_joule');
    assert.equal(intensity.labels, '{zone="GB",source="replay"}');
    assert.ok(intensity.value > 0 && intensity.value * 3.6e6 < 1000, `intensity ${intensity.value * 3.6e6} g/kWh`);
    const limits = sample(body, 'chase_gpu_power_limit_watts');
    for (const l of limits) assert.ok(l.value >= 50 && l.value <= 1500, `limit ${l.value} W`);
    assert.match(limits[0].labels, /^\{gpu="0",UUID="[^"]+",modelName="[^"]+"\}$/, 'dcgm-exporter\'s labels');
    assert.equal(sample(body, 'chase_build_info').length, 1);
    assert.ok(sample(body, 'chase_gpu_power_watts').length > 0);
    assert.match(body, /# TYPE chase_gpu_energy_joules_total counter/);
    const info = await agent.rpc.sendRequest<AgentInfo>(Methods.agentInfo.method);
    assert.equal(info.metricsUrl, `http://127.0.0.1:${port}/metrics`);
    // 404 for anything but GET /metrics
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 404);

    // chase/configure moves it, then turns it off
    const moved = await freePort();
    await agent.rpc.sendRequest(Methods.configure.method, { carbon, metrics: { enabled: true, host: '127.0.0.1', port: moved } });
    assert.equal(await scrape(port), 'refused');
    await scrapeUntil(moved, (b) => sample(b, 'chase_grid_carbon_intensity_grams_per_joule').length > 0);
    await agent.rpc.sendRequest(Methods.configure.method, { carbon, metrics: { enabled: false, host: '127.0.0.1', port: moved } });
    assert.equal(await scrape(moved), 'refused');
    assert.equal(await shutdown(agent), 0);
  });

  it('an idle agent with metrics on samples GPUs for /metrics but writes no history', async () => {
    const port = await freePort();
    const stateDir = mkdtempSync(join(tmpdir(), 'chase-metrics-state-'));
    const agent = spawnAgent({ CHASE_STATE_DIR: stateDir });
    agents.push(agent);
    await initialize(agent, { settings: { carbon, metrics: { enabled: true, host: '127.0.0.1', port } } });
    const energy = (b: string) => sample(b, 'chase_gpu_energy_joules_total')[0]?.value ?? 0;
    const first = await scrapeUntil(port, (b) => sample(b, 'chase_gpu_energy_joules_total').length > 0);
    // the 1 Hz sampler runs: the counter grows (waited for, not slept for)
    await scrapeUntil(port, (b) => energy(b) > energy(first));
    assert.equal(existsSync(join(stateDir, 'history.sqlite')), false, 'no history database for an idle editor');
    assert.equal(await shutdown(agent), 0);
  });

  it('off by default: nothing listens', async () => {
    const port = await freePort();
    const defaultFree = (await scrape(9477)) === 'refused';
    const agent = spawnAgent({ CHASE_HISTORY: 'off' });
    agents.push(agent);
    await initialize(agent, { settings: { carbon } });
    // chase/configure returns once the endpoint settings are applied (after those of initialized):
    // had the agent wrongly opened a port, it would be open now
    await agent.rpc.sendRequest(Methods.configure.method, { carbon });
    if (defaultFree) assert.equal(await scrape(9477), 'refused', 'nothing on the default port 9477');
    await agent.rpc.sendRequest(Methods.configure.method, { carbon, metrics: { enabled: false, host: '127.0.0.1', port } });
    assert.equal(await scrape(port), 'refused');
    const info = await agent.rpc.sendRequest<AgentInfo>(Methods.agentInfo.method);
    assert.equal(info.metricsUrl, undefined);
    assert.equal(await shutdown(agent), 0);
  });

  it('a port in use: a warning and a note, and the agent keeps working', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const agent = spawnAgent({ CHASE_HISTORY: 'off' });
      agents.push(agent);
      await initialize(agent, { settings: { carbon, metrics: { enabled: true, host: '127.0.0.1', port } } });
      let info: AgentInfo | undefined;
      for (let i = 0; i < 50 && !info?.notes; i++) {
        info = await agent.rpc.sendRequest<AgentInfo>(Methods.agentInfo.method);
        if (!info.notes) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(info?.notes?.join('\n') ?? '', new RegExp(`port ${port} .*in use.*chase\\.metrics\\.port`));
      assert.match(agent.stderr(), /port \d+ on 127\.0\.0\.1 is in use/);
      const status = await agent.rpc.sendRequest<{ state: string }>(Methods.carbonStatus.method);
      assert.ok(status.state === 'ok' || status.state === 'error');
      assert.equal(await shutdown(agent), 0);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

  it('rejects malformed metrics settings naming the setting', async () => {
    const agent = spawnAgent({ CHASE_HISTORY: 'off' });
    agents.push(agent);
    await initialize(agent, { settings: { carbon } });
    await assert.rejects(agent.rpc.sendRequest(Methods.configure.method, { carbon, metrics: { enabled: true, host: '127.0.0.1', port: 70000 } }), /chase\.metrics\.port/);
    await assert.rejects(agent.rpc.sendRequest(Methods.configure.method, { carbon, metrics: { enabled: 'yes', host: '127.0.0.1', port: 9477 } }), /chase\.metrics\.enabled/);
    assert.equal(await shutdown(agent), 0);
  });

  it('serve --socket --metrics HOST:PORT: the limits service serves its GPUs\' /metrics with no editor attached; a client cannot move it', async () => {
    const port = await freePort();
    const clientPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'chase-metrics-sock-'));
    const sock = join(dir, 'agent.sock');
    const proc = spawn(process.execPath, [agentJs, 'serve', '--socket', sock, '--metrics', `127.0.0.1:${port}`], { env: { ...process.env, CHASE_STATE_DIR: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    try {
      // nobody connected: the GPUs and the build are there already
      const body = await scrapeUntil(port, (b) => sample(b, 'chase_gpu_power_watts').length > 0);
      assert.match(sample(body, 'chase_gpu_power_watts')[0].labels, /gpu="0",UUID="[^"]+",modelName="[^"]+"/);
      assert.equal(sample(body, 'chase_build_info')[0]?.value, 1);
      // the limits service has no editor methods (docs/gpu.md, "Trust model"): a client cannot open an endpoint
      const s = connect(sock);
      await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
      const rpc = createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s));
      rpc.listen();
      await assert.rejects(rpc.sendRequest(Methods.configure.method, { carbon, metrics: { enabled: true, host: '127.0.0.1', port: clientPort } }), (e: unknown) => e instanceof ResponseError && e.code === ErrorCodes.MethodNotFound);
      assert.equal(await scrape(clientPort), 'refused', 'no endpoint per connection');
      rpc.dispose();
      s.destroy();
      assert.notEqual(await scrape(port), 'refused', 'a client leaving does not stop the service\'s endpoint');
      proc.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  });

  it('CHASE_METRICS serves an editor\'s agent from the start; a malformed value is one line and exit 2', async () => {
    const port = await freePort();
    const agent = spawnAgent({ CHASE_HISTORY: 'off', CHASE_METRICS: `127.0.0.1:${port}` });
    agents.push(agent);
    // before initialize: serving already
    await scrapeUntil(port, (b) => sample(b, 'chase_gpu_power_limit_watts').length > 0);
    await initialize(agent, { settings: { carbon, metrics: { enabled: false, host: '127.0.0.1', port } } });
    await agent.rpc.sendRequest(Methods.configure.method, { carbon });
    assert.notEqual(await scrape(port), 'refused', 'the variable wins over chase.metrics.enabled: false');
    assert.equal(await shutdown(agent), 0);

    for (const [args, env, name] of [
      [['serve', '--stdio', '--metrics', 'localhost'], {}, '--metrics'],
      [['serve', '--stdio'], { CHASE_METRICS: '0.0.0.0:99999' }, 'CHASE_METRICS'],
    ] as const) {
      const r = await runAgentCli([...args], { CHASE_HISTORY: 'off', ...env }, { timeoutMs: 20_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`${name} must be HOST:PORT, e\\.g\\. 0\\.0\\.0\\.0:9477`));
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
  });
});
