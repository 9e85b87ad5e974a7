/**
 * Contract tests: the built agent, spawned as a process, answers every wire method as declared in
 * agent/protocol/messages.ts, reports bad input as the declared error codes, and shuts down cleanly.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc/node';
import { Methods, AgentErrorCodes, type EnergyBetweenResult, type GpusResult, type AgentInfo, type CarbonStatus, type Configured, type IntensitySeriesResult } from '../../agent/protocol/messages';
import { agentJs, initialize, repoRoot, shutdown, spawnAgent, type AgentUnderTest } from './agentProcess';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const replayGB = { settings: { carbon: { provider: 'replay' as const, zone: 'GB', replaySpeed: 1 } } };

function nextStatus(agent: AgentUnderTest, pred: (s: CarbonStatus) => boolean = () => true, timeoutMs = 5000): Promise<CarbonStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching carbonStatusChanged within ' + timeoutMs + ' ms')), timeoutMs);
    const sub = agent.rpc.onNotification(Methods.carbonStatusChanged.method, (s: CarbonStatus) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

async function expectRpcError(p: Promise<unknown>, code: number): Promise<ResponseError<unknown>> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ResponseError, `expected a ResponseError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  throw new Error(`expected error ${code}, got a result`);
}

describe('chase-agent CLI', () => {
  it('--version prints the package version', () => {
    assert.equal(execFileSync(process.execPath, [agentJs, '--version'], { encoding: 'utf8' }).trim(), pkg.version);
  });
  it('--help lists the commands, on stdout', () => {
    const out = execFileSync(process.execPath, [agentJs, '--help'], { encoding: 'utf8' });
    assert.match(out, /Usage: chase-agent <command>/);
    assert.match(out, /serve/);
  });
  it('an unknown command exits 2 with the help on stderr', () => {
    const r = spawnSync(process.execPath, [agentJs, 'frobnicate'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});

describe('agent JSON-RPC contract', () => {
  let agent: AgentUnderTest;
  let firstStatus: Promise<CarbonStatus>;
  let initResult: unknown;

  before(async () => {
    agent = spawnAgent();
    firstStatus = nextStatus(agent);
    initResult = await initialize(agent, replayGB);
  });
  after(async () => {
    if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
  });

  it('initialize declares no LSP capabilities (no document sync) and names the agent', () => {
    const r = initResult as { capabilities: Record<string, unknown>; serverInfo: { name: string; version: string } };
    // vscode-languageserver adds textDocumentSync: None (0) itself; nothing else may be declared.
    const { textDocumentSync, ...others } = r.capabilities;
    assert.ok(textDocumentSync === undefined || textDocumentSync === 0, `textDocumentSync ${String(textDocumentSync)}`);
    assert.deepEqual(others, {});
    assert.equal(r.serverInfo.name, 'chase-agent');
    assert.equal(r.serverInfo.version, pkg.version);
  });

  it('pushes carbonStatusChanged after initialized', async () => {
    const s = await firstStatus;
    assert.equal(s.state, 'ok');
    if (s.state === 'ok') assert.equal(s.source.label, 'replay GB 2023');
  });

  it('carbonStatus answers the current reading: g/kWh, epoch-ms timestamp, not stale', async () => {
    const s = await agent.rpc.sendRequest<CarbonStatus>(Methods.carbonStatus.method);
    assert.equal(s.state, 'ok');
    if (s.state !== 'ok') return;
    assert.ok(s.intensityGPerKwh > 0);
    assert.ok(Math.abs(s.timestampMs - Date.now()) <= 3_600_000);
    assert.equal(s.stale, false);
    assert.equal(s.source.signal, 'average');
    assert.match(s.source.attribution, /Electricity Maps/);
  });

  it('agentInfo answers version, pid and node version', async () => {
    const info = await agent.rpc.sendRequest<AgentInfo>(Methods.agentInfo.method);
    assert.equal(info.version, pkg.version);
    assert.equal(info.pid, agent.proc.pid);
    assert.match(info.nodeVersion, /^v\d+/);
  });

  it('intensitySeries answers 48 h of actual values and 24 h ahead', async () => {
    const r = await agent.rpc.sendRequest<IntensitySeriesResult>(Methods.intensitySeries.method, { pastHours: 48, futureHours: 24 });
    assert.equal(r.actual.length, 48);
    assert.equal(r.forecast.length, 24);
    const times = [...r.actual, ...r.forecast].map((p) => p.timestampMs);
    assert.ok(times.every((t, i) => i === 0 || t - times[i - 1] === 3_600_000), 'hourly and increasing');
  });

  it('configure with an unknown zone answers an unknownZone status, not a crash', async () => {
    const r = await agent.rpc.sendRequest<Configured>(Methods.configure.method, { carbon: { provider: 'replay', zone: 'ATLANTIS', replaySpeed: 1 } });
    assert.equal(r.status.state, 'error');
    if (r.status.state === 'error') {
      assert.equal(r.status.code, AgentErrorCodes.unknownZone);
      assert.match(r.status.message, /ATLANTIS.*chase\.carbon\.zone/);
    }
    await expectRpcError(agent.rpc.sendRequest(Methods.intensitySeries.method, { pastHours: 1, futureHours: 1 }), AgentErrorCodes.carbonSourceUnavailable);
  });

  it('configure with a corrupt trace file answers a carbonSourceUnavailable status naming the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chase-contract-'));
    const file = join(dir, 'broken.csv');
    writeFileSync(file, 'timestamp,intensity\n2023-01-01T00:00:00Z,100\nnot-a-time,12\n2023-01-01T02:00:00Z,90\n');
    const r = await agent.rpc.sendRequest<Configured>(Methods.configure.method, { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1, traceFile: file } });
    assert.equal(r.status.state, 'error');
    if (r.status.state === 'error') {
      assert.equal(r.status.code, AgentErrorCodes.carbonSourceUnavailable);
      assert.match(r.status.message, /broken\.csv: line 3: cannot read time/);
    }
  });

  it('configure with malformed settings is an invalidSettings error naming the setting', async () => {
    const e = await expectRpcError(agent.rpc.sendRequest(Methods.configure.method, { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 'fast' } }), AgentErrorCodes.invalidSettings);
    assert.match(e.message, /chase\.carbon\.replaySpeed/);
  });

  it('configure back to a good source recovers', async () => {
    const r = await agent.rpc.sendRequest<Configured>(Methods.configure.method, { carbon: { provider: 'static', zone: 'LAB', replaySpeed: 1, staticIntensityGPerKwh: 42 } });
    assert.equal(r.status.state, 'ok');
    if (r.status.state === 'ok') assert.equal(r.status.intensityGPerKwh, 42);
  });

  it('gpus: with no NVIDIA driver the agent shows simulated GPUs, labelled so', async () => {
    const r = await agent.rpc.sendRequest<GpusResult>(Methods.gpus.method);
    assert.ok(r.gpus.length >= 1);
    const g = r.gpus[0];
    assert.equal(g.backend, 'simulated');
    assert.equal(g.simulated, true);
    assert.ok(g.minLimitMw < g.maxLimitMw && g.powerLimitMw <= g.maxLimitMw);
    assert.equal(g.control, 'permitted');
    assert.ok(r.notes.some((n) => /driver|simulated/i.test(n)), r.notes.join(' | '));
  });

  it('gpuProcesses: simulated GPUs run no processes', async () => {
    assert.deepEqual(await agent.rpc.sendRequest(Methods.gpuProcesses.method), []);
  });

  it('an unknown method is MethodNotFound', async () => {
    await expectRpcError(agent.rpc.sendRequest('chase/noSuchThing'), ErrorCodes.MethodNotFound);
  });

  it('error codes are outside the ranges JSON-RPC and LSP reserve', () => {
    for (const code of Object.values(AgentErrorCodes)) {
      assert.ok(!(code >= -32099 && code <= -32000) && !(code >= -32899 && code <= -32800), String(code));
    }
  });

  it('nothing but protocol on stdout: logs went to stderr', () => {
    assert.match(agent.stderr(), /chase-agent .* initializing/);
  });

  it('shutdown then exit ends the process with code 0', async () => {
    assert.equal(await shutdown(agent), 0);
  });
});

describe('agent replay speed-up', () => {
  it('a sped-up replay pushes a new reading every trace hour', async () => {
    const agent = spawnAgent();
    try {
      const seen: number[] = [];
      const got3 = new Promise<void>((resolve) =>
        agent.rpc.onNotification(Methods.carbonStatusChanged.method, (s: CarbonStatus) => {
          // A timer may fire a hair early under load and re-read the same hour: count distinct hours.
          if (s.state === 'ok' && !seen.includes(s.timestampMs)) seen.push(s.timestampMs);
          if (seen.length >= 3) resolve();
        }),
      );
      // 36 000×: one trace hour every 100 ms.
      await initialize(agent, { settings: { carbon: { provider: 'replay', zone: 'US-TEX-ERCO', replaySpeed: 36_000 } } });
      await Promise.race([got3, new Promise((_, rej) => setTimeout(() => rej(new Error(`only ${seen.length} readings in 5 s`)), 5000))]);
      assert.ok(seen[2] > seen[1] && seen[1] > seen[0]);
      assert.equal((seen[2] - seen[1]) % 3_600_000, 0);
      assert.equal(await shutdown(agent), 0);
    } finally {
      if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
    }
  });

  it('invalid settings in initialize give an error status, not a crash', async () => {
    const agent = spawnAgent();
    try {
      const status = nextStatus(agent);
      await initialize(agent, { settings: { carbon: { provider: 'replay', zone: '', replaySpeed: 1 } } });
      const s = await status;
      assert.equal(s.state, 'error');
      if (s.state === 'error') assert.equal(s.code, AgentErrorCodes.invalidSettings);
      assert.equal(await shutdown(agent), 0);
    } finally {
      if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
    }
  });
});

describe('chase/energyBetween', () => {
  it('reports the simulated GPU energy over a past interval, with carbon at the grid intensity then', async () => {
    const agent = spawnAgent({ CHASE_HISTORY: 'off' });
    try {
      await initialize(agent, replayGB);
      const t0 = Date.now();
      // until the agent has sampled past t0 + 3000 (then [t0 + 1000, t0 + 3000] is covered)
      const deadline = Date.now() + 15_000;
      while ((await agent.rpc.sendRequest<EnergyBetweenResult>(Methods.energyBetween.method, { fromMs: t0 + 3000, toMs: t0 + 60_000 })).coveredMs === 0) {
        assert.ok(Date.now() < deadline, 'no GPU sample after t0 + 3 s within 15 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await agent.rpc.sendRequest<EnergyBetweenResult>(Methods.energyBetween.method, { fromMs: t0 + 1000, toMs: t0 + 3000 });
      assert.equal(r.simulated, true);
      assert.equal(r.gpuCount, 1);
      assert.ok(r.coveredMs > 1900, `covered ${r.coveredMs} ms`);
      // the simulated A40 at its default 300 W limit draws 244.3 W (Zeus profile): ~489 J in 2 s
      assert.ok(Math.abs(r.energyJ - 244.3 * (r.coveredMs / 1000)) / r.energyJ < 0.02, `energy ${r.energyJ} J over ${r.coveredMs} ms`);
      const status = await agent.rpc.sendRequest<CarbonStatus>(Methods.carbonStatus.method);
      assert.ok(status.state === 'ok');
      if (status.state === 'ok') assert.ok(Math.abs(r.carbonG - (r.energyJ / 3.6e6) * status.intensityGPerKwh) < 1e-6 * Math.max(1, r.carbonG) + 1e-9);
      await expectRpcError(agent.rpc.sendRequest(Methods.energyBetween.method, { fromMs: 5, toMs: 1 }), AgentErrorCodes.invalidSettings);
      assert.equal(await shutdown(agent), 0);
    } finally {
      if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
    }
  });
});
