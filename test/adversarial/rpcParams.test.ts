/**
 * Finding 5 (issue 12): malformed chase/startRun (and every other method's) parameters crashed the
 * agent. Each is answered with JSON-RPC InvalidParams naming the field; the agent keeps serving, and
 * no limit changes. One agent for the whole file (start-up is the slow part).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCodes } from 'vscode-jsonrpc/node';
import { Methods, type AgentInfo, type RunSummary, type StartRunResult } from '../../agent/protocol/messages';
import { HistoryStore } from '../../agent/store/history';
import { createLogger } from '../../agent/log';
import { join } from 'node:path';
import { expectInvalidParams, expectRpcError, fakeGpuHost, INTERNAL_TEXT, startAgent, waitFor, withTimeout, type Agent, type FakeGpuHost } from './harness';

const ok = { command: 'true', args: [] as string[], budgetPct: 2.5, gpus: [0], workload: 'stored' };

describe('malformed RPC parameters (finding 5)', () => {
  let host: FakeGpuHost;
  let agent: Agent;

  before(async () => {
    host = fakeGpuHost();
    // a stored profile for workload "stored": the path on which policy "bogus" crashed (the stored
    // profile skips profiling and goes straight to building the named policy)
    const store = HistoryStore.open({ path: join(host.stateDir, 'history.sqlite'), log: createLogger('seed') });
    store.saveProfile([100000, 200000, 300000].map((powerLimitMw, i) => ({ gpuModel: 'NVIDIA A40', workloadKey: 'stored', powerLimitMw, epochMs: 1000 - i * 100, energyJ: 100 + i * 50, updatedMs: Date.now() })));
    store.close();
    agent = await startAgent(host);
  });
  after(async () => {
    if (agent.alive()) agent.proc.kill('SIGKILL');
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['args as one string', { ...ok, args: 'a b' }, /args must be a list of strings/],
    ['args of numbers', { ...ok, args: [1, 2] }, /args\.0 must be a string \(got 1\)/],
    ['cwd a number', { ...ok, cwd: 42 }, /cwd must be an absolute folder path \(got 42\)/],
    ['cwd relative', { ...ok, cwd: 'work' }, /cwd must be an absolute folder path/],
    ['NUL in command', { ...ok, command: 'py\u0000thon' }, /command must be a program to run/],
    ['NUL in an argument', { ...ok, args: ['a\u0000b'] }, /args\.0 must be a string/],
    ['policy bogus (stored profile)', { ...ok, policy: 'bogus' }, /policy must be one of default, max-power/],
    ['policy constructor', { ...ok, policy: 'constructor' }, /policy must be one of/],
    ['policy __proto__', { ...ok, policy: '__proto__' }, /policy must be one of/],
    ['budgetPct a string', { ...ok, budgetPct: '2.5' }, /budgetPct must be a number from 0 to 100 .*\(got "2\.5"\)/],
    ['budgetPct 1e308', { ...ok, budgetPct: 1e308 }, /budgetPct must be a number from 0 to 100/],
    ['budgetPct negative', { ...ok, budgetPct: -1 }, /budgetPct must be a number from 0 to 100/],
    ['budgetPct missing', { command: 'true', args: [] }, /budgetPct is required/],
    ['gpus twice the same', { ...ok, gpus: [0, 0] }, /gpus must be a list of distinct GPU indices/],
    ['gpus negative', { ...ok, gpus: [-1] }, /gpus\.0 must be a GPU index/],
    ['gpus fractional', { ...ok, gpus: [0.5] }, /gpus\.0 must be a GPU index/],
    ['pid a string', { ...ok, command: '', pid: '1' }, /pid must be the id of a running process/],
    ['pid and a command', { ...ok, pid: process.pid }, /command must be .*not both/],
    ['env with a number', { ...ok, env: { A: 1 } }, /env\.A must be a string value/],
    ['env name with =', { ...ok, env: { 'A=B': 'x' } }, /must be an environment variable name/],
    ['totalUnits 0', { ...ok, totalUnits: 0 }, /totalUnits must be a number of progress units > 0/],
    ['unknown field', { ...ok, budget: 3 }, /unknown field "budget"/],
    ['params null', null, /the parameters must be an object/],
    ['params a list', [ok, ok], /send the parameters as one object, not a list/],
    ['command 100 kB', { ...ok, command: 'x'.repeat(100_000) }, /command must be a program to run/],
  ];
  for (const [name, params, message] of cases) {
    it(`startRun: ${name} → InvalidParams`, async () => {
      const e = await expectInvalidParams(agent.rpc.sendRequest(Methods.startRun.method, params), message);
      assert.match(e.message, /^chase\/startRun: /);
      assert.doesNotMatch(e.message, INTERNAL_TEXT);
      assert.ok(agent.alive(), 'the agent is still running');
    });
  }

  it('startRun: parameters by position → InvalidParams', async () => {
    await expectInvalidParams(agent.rpc.sendRequest(Methods.startRun.method, ok, ok), /send the parameters as one object, not a list/);
  });

  it('other methods: bad parameters → InvalidParams naming the field', async () => {
    await expectInvalidParams(agent.rpc.sendRequest(Methods.stopRun.method, { runId: 7 }), /runId must be a run id/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.recentRuns.method, { limit: 1e9 }), /limit must be a whole number from 1 to 1000/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.intensitySeries.method, { pastHours: 'x', futureHours: 1 }), /pastHours must be a number of hours/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.exportRun.method, { runId: 'r', format: 'csv', outFile: '/tmp/x' }), /format must be "codecarbon" or "json"/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.configure.method, { carbon: { provider: 'nope', zone: 'GB', replaySpeed: 1 } }), /chase\.carbon\.provider must be one of/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.configure.method, { carbon: { provider: 'static', zone: 'GB', replaySpeed: 1, staticIntensityGPerKwh: 1e308 } }), /chase\.carbon\.staticIntensity must be a number of g\/kWh from 0 to 3000/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.agentInfo.method, { surprise: true }), /takes no parameters/);
    await expectRpcError(agent.rpc.sendRequest('chase/noSuchMethod', {}), ErrorCodes.MethodNotFound, /Unhandled method/);
  });

  it('energyBetween over ±8e15 ms is refused at once, not computed (it took 3.4 GB)', async () => {
    const before = agent.peakRssMiB();
    const t0 = Date.now();
    await expectInvalidParams(agent.rpc.sendRequest(Methods.energyBetween.method, { fromMs: -8e15, toMs: 8e15 }), /fromMs must be a time in epoch milliseconds/);
    await expectInvalidParams(agent.rpc.sendRequest(Methods.energyBetween.method, { fromMs: 0, toMs: 4e12 }), /toMs must be at most 31 days after fromMs/);
    // the widest allowed range ends at once too: only the part the samples cover is looked up
    const now = Date.now();
    await withTimeout(agent.rpc.sendRequest(Methods.energyBetween.method, { fromMs: now - 31 * 86_400_000, toMs: now }), 5000, 'energyBetween over 31 days');
    assert.ok(Date.now() - t0 < 5000, `answered in ${Date.now() - t0} ms`);
    assert.ok(agent.peakRssMiB() - before < 50, `peak RSS grew from ${before.toFixed(0)} to ${agent.peakRssMiB().toFixed(0)} MiB`);
  });

  it('after all that the agent still serves, starts a valid run, and no limit was left changed', async () => {
    const info = await agent.rpc.sendRequest<AgentInfo>(Methods.agentInfo.method);
    assert.equal(info.pid, agent.proc.pid);
    const started = await agent.rpc.sendRequest<StartRunResult>(Methods.startRun.method, ok);
    await waitFor(async () => !(await agent.rpc.sendRequest<RunSummary[]>(Methods.runs.method)).some((r) => r.id === started.runId), 15_000, 'the valid run to end');
    assert.equal(await agent.stop(), 0);
    assert.doesNotMatch(agent.stderr(), /Unhandled|TypeError|uncaught/i);
    assert.deepEqual(host.limits(), host.originalLimits);
  });
});
