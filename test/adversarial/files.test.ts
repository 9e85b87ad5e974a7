/**
 * Findings 8, 9 and 10 (issue 12), files: traces that are devices, pipes, huge or nonsense; export
 * targets that are devices, existing files or symbolic links; runs left "running" by a dead agent;
 * engine error texts reaching users. Against the built agent (spawned where the old behaviour was a
 * hang, in this process where it was a wrong answer).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from 'vscode-jsonrpc/node';
import { AgentErrorCodes, Methods, type CarbonStatus, type Configured, type ExportRunResult, type RecentRunsResult, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { HistoryStore } from '../../agent/store/history';
import { SqliteDb } from '../../agent/store/sqlite';
import { createLogger } from '../../agent/log';
import { cliInProcess, expectRpcError, fakeGpuHost, GPU_A, INTERNAL_TEXT, runCli, startAgent, waitFor, withTimeout, type Agent, type FakeGpuHost } from './harness';

const HOUR = 3_600_000;

/** An hourly trace CSV with these values. */
function trace(values: string[], stepMs = HOUR, start = Date.UTC(2023, 0, 1)): string {
  return ['timestamp,intensity', ...values.map((v, i) => `${new Date(start + i * stepMs).toISOString()},${v}`)].join('\n') + '\n';
}

/** A history with one finished run (`run-done`) and, optionally, one a dead agent left "running". */
function seedHistory(path: string, nowMs: number): { leftStartMs: number; lastSeenMs: number } {
  const store = HistoryStore.open({ path, log: createLogger('seed') });
  const leftStartMs = nowMs - 2 * HOUR;
  const lastSeenMs = nowMs - HOUR;
  store.startRun({ id: 'run-done', command: 'python train.py', startMs: nowMs - 3 * HOUR, gpuUuids: [GPU_A], policy: 'default', budgetPct: 2.5, energyJ: 0, carbonG: 0, status: 'running', zone: 'GB' });
  store.finishRun('run-done', { endMs: nowMs - 2.5 * HOUR, status: 'completed', energyJ: 3600, carbonG: 1 });
  store.startRun({ id: 'run-left', command: 'python long.py', startMs: leftStartMs, gpuUuids: [GPU_A], policy: 'default', budgetPct: 2.5, energyJ: 0, carbonG: 0, status: 'running', zone: 'GB' });
  store.addSamples([{ timestampMs: leftStartMs + 60_000, gpuUuid: GPU_A, powerMw: 200_000, powerLimitMw: 300_000, energyMj: 1 }]);
  store.recordDecision({ runId: 'run-left', timestampMs: lastSeenMs, powerLimitMw: 250_000, intensityGPerKwh: 200 });
  store.close();
  return { leftStartMs, lastSeenMs };
}

describe('traces a user names (findings 8, 9)', { concurrency: 3 }, () => {
  const host = fakeGpuHost();
  const file = (name: string, text: string) => {
    const p = join(host.dir, name);
    writeFileSync(p, text);
    return p;
  };
  const fifo = join(host.dir, 'trace.fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(host.dir, 'big.csv');
  closeSync(openSync(big, 'w'));
  execFileSync('truncate', ['-s', '65M', big]); // sparse: no disk used

  // spawned: each of these hung or ran until the process died
  const hangs: Array<[string, string, RegExp]> = [
    ['/dev/zero', '/dev/zero', /\/dev\/zero is a device, not a regular file/],
    ['a FIFO', fifo, /trace\.fifo is a pipe \(FIFO\), not a regular file/],
    ['a 1-ms step', file('ms.csv', 'timestamp,intensity\n1700000000000,100\n1700000000001,200\n1700000000002,300\n'), /1 ms apart; periods of at least 1 minute/],
    ['a 65 MiB file', big, /big\.csv is 65\.0 MiB; at most 64\.0 MiB is read/],
  ];
  for (const [name, path, message] of hangs) {
    it(`carbon --trace <${name}> → exit 1 at once, saying why`, async () => {
      const r = await runCli(host, ['carbon', '--trace', path, '--hours', '2']);
      assert.equal(r.code, 1, `exit code (null: killed after ${r.ms} ms); stderr: ${r.stderr.slice(-500)}`);
      assert.match(r.stderr, message);
      assert.ok(r.ms < 10_000, `${r.ms} ms`);
    });
  }

  // in this process: these were read as nonsense and gave nonsense with exit 0
  const nonsense: Array<[string, string[], RegExp]> = [
    ['1e308', ['100', '1e308', '120'], /line 3: intensity "1e308" is not a decimal number of gCO₂\/kWh from 0 to 3000/],
    ['0x10', ['100', '0x10', '120'], /line 3: intensity "0x10" is not a decimal number/],
    ['Infinity', ['100', 'Infinity', '120'], /line 3: intensity "Infinity"/],
    ['all zero', ['0', '0', '0', '0'], /every intensity is 0 g\/kWh/],
  ];
  for (const [name, values, message] of nonsense) {
    it(`carbon --trace with ${name} → exit 1 naming the line`, async () => {
      const r = await cliInProcess(['carbon', '--trace', file(`${name}.csv`, trace(values))], host.env);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    });
  }

  it('a repeated time (or two rows in one period) is refused naming both lines, not dropped', async () => {
    const dup = file('dup.csv', 'timestamp,intensity\n2023-01-01T00:00Z,100\n2023-01-01T01:00Z,110\n2023-01-01T01:00Z,900\n2023-01-01T02:00Z,120\n');
    const r = await cliInProcess(['forecast-bench', '--trace', dup], host.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 4: time repeats line 3/);
    const snapped = file('snap.csv', 'timestamp,intensity\n2023-01-01T00:00Z,100\n2023-01-01T01:00Z,110\n2023-01-01T01:10Z,900\n2023-01-01T02:00Z,120\n2023-01-01T03:00Z,130\n');
    const s = await cliInProcess(['forecast-bench', '--trace', snapped], host.env);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /line 4: falls in the same 60-minute period as line 3/);
  });

  it('an all-zero trace gives forecast-bench no NaN MAPE: it is refused', async () => {
    const r = await cliInProcess(['forecast-bench', '--trace', file('zeros.csv', trace(Array(24 * 20).fill('0')))], host.env);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stdout, /NaN/);
    assert.match(r.stderr, /every intensity is 0 g\/kWh/);
  });
});

describe('the agent over JSON-RPC: trace files, exports, interrupted runs (findings 8, 10)', () => {
  let host: FakeGpuHost;
  let agent: Agent;
  let seeded: { leftStartMs: number; lastSeenMs: number };
  const out = (name: string) => join(host.dir, name);

  before(async () => {
    host = fakeGpuHost();
    seeded = seedHistory(join(host.stateDir, 'history.sqlite'), Date.now());
    agent = await startAgent(host);
  });
  after(() => {
    if (agent.alive()) agent.proc.kill('SIGKILL');
  });

  it('configure with traceFile /dev/zero or a FIFO: an error status at once, memory flat', async () => {
    const fifo = out('t.fifo');
    execFileSync('mkfifo', [fifo]);
    const rssBefore = agent.peakRssMiB();
    for (const [traceFile, message] of [['/dev/zero', /\/dev\/zero is a device/], [fifo, /t\.fifo is a pipe/]] as const) {
      const r = await withTimeout(agent.rpc.sendRequest<Configured>(Methods.configure.method, { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1, traceFile } }), 5000, `configure ${traceFile}`);
      assert.equal(r.status.state, 'error');
      if (r.status.state === 'error') assert.match(r.status.message, message);
    }
    assert.ok(agent.peakRssMiB() - rssBefore < 20, `peak RSS ${rssBefore.toFixed(0)} → ${agent.peakRssMiB().toFixed(0)} MiB`);
    // and back to a working source for the rest
    const ok = await agent.rpc.sendRequest<Configured>(Methods.configure.method, { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 } });
    assert.equal(ok.status.state, 'ok');
  });

  it('exportRun never replaces a file unasked, never writes through a link, never blocks on a pipe', async () => {
    const existing = out('existing.json');
    writeFileSync(existing, 'keep me');
    await expectRpcError(agent.rpc.sendRequest(Methods.exportRun.method, { runId: 'run-done', format: 'json', outFile: existing }), AgentErrorCodes.exportFailed, /existing\.json already exists; confirm replacing it \(overwrite: true\)/);
    assert.equal(readFileSync(existing, 'utf8'), 'keep me');
    const r = await agent.rpc.sendRequest<ExportRunResult>(Methods.exportRun.method, { runId: 'run-done', format: 'json', outFile: existing, overwrite: true });
    assert.equal(r.written, 'created');
    assert.equal((JSON.parse(readFileSync(existing, 'utf8')) as { run: { id: string } }).run.id, 'run-done');

    const victim = out('victim.txt');
    writeFileSync(victim, 'precious');
    for (const [name, format] of [['link.json', 'json'], ['link.csv', 'codecarbon']] as const) {
      symlinkSync(victim, out(name));
      await expectRpcError(agent.rpc.sendRequest(Methods.exportRun.method, { runId: 'run-done', format, outFile: out(name), overwrite: true }), AgentErrorCodes.exportFailed, /is a symbolic link; Chase does not write through links/);
    }
    assert.equal(readFileSync(victim, 'utf8'), 'precious');

    const fifo = out('out.fifo');
    execFileSync('mkfifo', [fifo]);
    await expectRpcError(agent.rpc.sendRequest(Methods.exportRun.method, { runId: 'run-done', format: 'codecarbon', outFile: fifo }), AgentErrorCodes.exportFailed, /out\.fifo is a pipe \(FIFO\)/);
    await expectRpcError(agent.rpc.sendRequest(Methods.exportRun.method, { runId: 'run-done', format: 'json', outFile: '/dev/null', overwrite: true }), AgentErrorCodes.exportFailed, /\/dev\/null is a device/);
  });

  it('a run a dead agent left "running" becomes interrupted, ending when it was last seen (its duration stops growing)', async () => {
    // a run makes the agent open its history (it does so on first use), which marks leftovers
    const started = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, { command: 'true', args: [], budgetPct: 2.5, gpus: [1] });
    await waitFor(async () => !(await agent.rpc.sendRequest<RunSummary[]>(Methods.runs.method)).some((r) => r.id === started.runId), 15_000, 'the run to end');
    const { runs } = await agent.rpc.sendRequest<RecentRunsResult>(Methods.recentRuns.method, { limit: 10 });
    const left = runs.find((r) => r.id === 'run-left');
    assert.equal(left?.status, 'interrupted');
    assert.equal(left?.endedAtMs, seeded.lastSeenMs, 'ends at its last decision, not "now"');
  });

  it('stops cleanly; no limit left changed', async () => {
    assert.equal(await agent.stop(), 0);
    assert.deepEqual(host.limits(), host.originalLimits);
  });
});

describe('exports from the command line (finding 10)', { concurrency: 2 }, () => {
  const host = fakeGpuHost();
  seedHistory(join(host.stateDir, 'history.sqlite'), Date.now());
  const out = (name: string) => join(host.dir, name);

  it('runs export --out /dev/zero → exit 1 at once (it hung)', async () => {
    const r = await runCli(host, ['runs', 'export', 'run-done', '--out', '/dev/zero']);
    assert.equal(r.code, 1, `exit code (null: killed after ${r.ms} ms); ${r.stderr}`);
    assert.match(r.stderr, /\/dev\/zero is a device/);
  });

  it('--format json --out over an existing file needs --force; a symlink is never followed', async () => {
    const existing = out('e.json');
    writeFileSync(existing, 'keep me');
    const no = await cliInProcess(['runs', 'export', 'run-done', '--format', 'json', '--out', existing], host.env);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /e\.json already exists; add --force to replace it/);
    assert.equal(readFileSync(existing, 'utf8'), 'keep me');
    const yes = await cliInProcess(['runs', 'export', 'run-done', '--format', 'json', '--out', existing, '--force'], host.env);
    assert.equal(yes.code, 0, yes.stderr);
    assert.match(readFileSync(existing, 'utf8'), /"run-done"/);
    const victim = out('v.txt');
    writeFileSync(victim, 'precious');
    symlinkSync(victim, out('l.json'));
    const link = await cliInProcess(['runs', 'export', 'run-done', '--format', 'json', '--out', out('l.json'), '--force'], host.env);
    assert.equal(link.code, 1);
    assert.match(link.stderr, /l\.json is a symbolic link/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious');
  });
});

describe('internal error texts never reach a user (finding 10)', () => {
  it('a corrupt history row: "internal error in chase-agent … please report" on the CLI and over RPC, the detail in the log', async () => {
    const host = fakeGpuHost();
    const path = join(host.stateDir, 'history.sqlite');
    seedHistory(path, Date.now());
    const db = new SqliteDb(path);
    db.run("UPDATE runs SET gpus = 'not json' WHERE id = 'run-done'");
    db.close();

    const cli = await cliInProcess(['runs', 'list'], host.env);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /chase-agent runs: internal error in chase-agent \(chase-agent runs\): please report it/);
    assert.match(cli.stderr, /\[error\] internal: internal error in chase-agent runs: SyntaxError/, 'the detail is in the log');
    const user = cli.stderr.split('\n').filter((l) => l.startsWith('chase-agent runs:'));
    assert.equal(user.length, 1);
    assert.doesNotMatch(user[0], INTERNAL_TEXT);

    const agent = await startAgent(host);
    try {
      const e = await expectRpcError(agent.rpc.sendRequest(Methods.recentRuns.method, {}), ErrorCodes.InternalError, /^internal error in chase-agent \(chase\/recentRuns\): please report it/);
      assert.doesNotMatch(e.message, INTERNAL_TEXT);
      await waitFor(() => /internal error in chase\/recentRuns: SyntaxError/.test(agent.stderr()), 5000, 'the stack in the agent log');
      assert.equal((await agent.rpc.sendRequest<CarbonStatus>(Methods.carbonStatus.method)).state, 'ok', 'the agent still serves');
      assert.equal(await agent.stop(), 0);
    } finally {
      if (agent.alive()) agent.proc.kill('SIGKILL');
    }
  });
});
