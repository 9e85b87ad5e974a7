/** chase/recentRuns and chase/exportRun: the agent reads its history and writes a run's export (the extension's "Export Run…"). */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc/node';
import { AgentErrorCodes, Methods, type ExportRunResult, type RecentRunsResult, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { CODECARBON_COLUMNS } from '../../agent/store/export';
import { HistoryReader } from '../../agent/store/history';
import { initialize, repoRoot, shutdown, spawnAgent, type AgentUnderTest, waitForCarbon } from './agentProcess';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');

describe('run history over the wire', () => {
  let agent: AgentUnderTest;
  const updates: RunSummary[] = [];
  const out = mkdtempSync(join(tmpdir(), 'chase-export-'));
  const stateDir = mkdtempSync(join(tmpdir(), 'chase-export-state-'));
  let metricsPort = 0;
  before(async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    metricsPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    agent = spawnAgent({ CHASE_STATE_DIR: stateDir });
    agent.rpc.onNotification(Methods.runUpdated.method, (s: RunSummary) => updates.push(s));
    await initialize(agent, { settings: { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 }, metrics: { enabled: true, host: '127.0.0.1', port: metricsPort } } });
    await waitForCarbon(agent);
  });
  after(() => {
    if (agent.proc.exitCode === null) agent.proc.kill('SIGKILL');
  });

  it('before any run: a clear "no runs yet" error', async () => {
    await assert.rejects(agent.rpc.sendRequest(Methods.recentRuns.method, {}), (e: unknown) => e instanceof ResponseError && e.code === AgentErrorCodes.historyUnavailable && /No runs recorded yet/.test(e.message));
  });

  let runId = '';
  it('after a run: lists it with its totals, newest first', async () => {
    const r = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'python3', args: [demo, '--epochs', '1', '--steps', '150', '--step-ms', '10'], budgetPct: 2.5 });
    runId = r.runId;
    const deadline = Date.now() + 30_000;
    while (!updates.some((u) => u.id === runId && u.state === 'finished') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    const end = updates.find((u) => u.id === runId && u.state === 'finished');
    assert.ok(end, 'the run finished');
    const recent = await agent.rpc.sendRequest<RecentRunsResult>(Methods.recentRuns.method, { limit: 10 });
    assert.match(recent.dbPath, /history\.sqlite$/);
    assert.equal(recent.runs.length, 1);
    const [run] = recent.runs;
    assert.equal(run.id, runId);
    assert.equal(run.status, 'completed');
    assert.match(run.command, /python3/);
    assert.ok(run.energyJ > 0 && run.carbonG > 0, `energy ${run.energyJ} J, carbon ${run.carbonG} g`);
    assert.ok(run.endedAtMs !== undefined && run.endedAtMs >= run.startedAtMs);
    // the run's totals reached the Prometheus counters too
    const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const m = new RegExp(`^chase_emissions_grams_total\\{run="${runId}"\\} (\\S+)$`, 'm').exec(body);
    assert.ok(m && Math.abs(Number(m[1]) - end.carbonG) < 1e-9, `chase_emissions_grams_total for the run = ${end.carbonG} g; got ${m?.[1]}`);
  });

  it('exports it as a CodeCarbon emissions.csv (header and one row)', async () => {
    const file = join(out, 'emissions.csv');
    const r = await agent.rpc.sendRequest<ExportRunResult>(Methods.exportRun.method, { runId, format: 'codecarbon', outFile: file });
    assert.deepEqual(r, { outFile: file, written: 'created' });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[0], CODECARBON_COLUMNS.join(','));
    const row = Object.fromEntries(CODECARBON_COLUMNS.map((c, i) => [c, lines[1].split(',')[i]]));
    assert.equal(row.run_id, runId);
    assert.ok(Number(row.duration) > 0);
    assert.ok(Number(row.emissions) > 0 && Number(row.emissions) < 1, `emissions ${row.emissions} kg`);
    assert.ok(Number(row.energy_consumed) > 0, `energy ${row.energy_consumed} kWh`);
    assert.equal(row.region, 'GB');
    assert.equal(row.gpu_count, '1');
    assert.match(row.gpu_model, /^1 x .*A40/);
    // a second export appends, as CodeCarbon does
    const again = await agent.rpc.sendRequest<ExportRunResult>(Methods.exportRun.method, { runId, format: 'codecarbon', outFile: file });
    assert.equal(again.written, 'appended');
    assert.equal(readFileSync(file, 'utf8').trimEnd().split('\n').length, 3);
  });

  it('exports it as JSON with the GPU samples and intensity readings recorded while it ran', async () => {
    const file = join(out, 'run.json');
    await agent.rpc.sendRequest<ExportRunResult>(Methods.exportRun.method, { runId, format: 'json', outFile: file });
    const j = JSON.parse(readFileSync(file, 'utf8')) as { format: string; run: { id: string }; samples: unknown[]; intensity: { zone: string }[]; gpus: { name?: string }[] };
    assert.equal(j.format, 'chase-run');
    assert.equal(j.run.id, runId);
    assert.ok(j.samples.length > 0, 'GPU samples of the run');
    assert.ok(j.intensity.every((i) => i.zone === 'GB'), 'intensity readings of the run\'s zone');
    assert.match(j.gpus[0]?.name ?? '', /A40/);
    // The readings themselves: at replaySpeed 3600 they carry the replay's virtual time (hours ahead of
    // the wall clock the run's window uses), so look them up in the database rather than in the run's window.
    const reader = HistoryReader.open({ path: join(stateDir, 'history.sqlite') });
    try {
      const readings = reader.intensity({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER, zone: 'GB' });
      assert.ok(readings.length > 0 && readings.every((r) => r.source === 'replay' && r.intensityGPerKwh > 0), `intensity readings recorded while the run was live: ${readings.length}`);
    } finally {
      reader.close();
    }
  });

  it('bad requests: unknown run, relative path, unknown format', async () => {
    await assert.rejects(agent.rpc.sendRequest(Methods.exportRun.method, { runId: 'nope', format: 'json', outFile: join(out, 'x.json') }), (e: unknown) => e instanceof ResponseError && e.code === AgentErrorCodes.unknownRun);
    await assert.rejects(agent.rpc.sendRequest(Methods.exportRun.method, { runId, format: 'json', outFile: 'x.json' }), (e: unknown) => e instanceof ResponseError && e.code === ErrorCodes.InvalidParams && /outFile must be an absolute file path/.test(e.message));
    await assert.rejects(agent.rpc.sendRequest(Methods.exportRun.method, { runId, format: 'xlsx', outFile: join(out, 'x') }), /codecarbon.*json/);
  });

  it('shuts down cleanly', async () => {
    assert.equal(await shutdown(agent), 0);
  });
});
