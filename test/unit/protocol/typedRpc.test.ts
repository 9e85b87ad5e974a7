/**
 * Typed RPC (issue 14 item 3): every call site passes the method object (agent/protocol/typedRpc.ts,
 * agent/server/rpc.ts), so the compiler checks parameters and results on both sides. The
 * `@ts-expect-error` lines below are the type-level test: `tsc -b` (the typecheck phase) fails when
 * one of them stops being an error. The lint rule in eslint.config.mjs refuses a bare `.method`
 * string or a method literal in agent/, extension/ and webview/.
 *
 * At run time: requests go out under the method's name, and the limits service's methods (now with a
 * schema each, like the editor's) answer bad parameters with InvalidParams naming the field, before
 * their handler runs — over a real vscode-jsonrpc connection pair.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createMessageConnection, ErrorCodes, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { Methods, type AgentInfo, type GpusResult } from '../../../agent/protocol/messages';
import { LimitsMethods, type ClaimParams, type SetLeaseLimitParams } from '../../../agent/protocol/limits';
import { onNotification, sendRequest } from '../../../agent/protocol/typedRpc';
import { onRequest } from '../../../agent/server/rpc';
import type { AgentClient } from '../../../extension/agentClient';

/** A peer that records what it was sent and answers `answer`. */
function recorder(answer: unknown) {
  const sent: unknown[][] = [];
  return {
    sent,
    sendRequest: async (...args: unknown[]) => (sent.push(args), answer),
    sendNotification: async () => undefined,
    onNotification: () => ({ dispose: () => undefined }),
  };
}

/** Never called: only its types matter (each @ts-expect-error must be an error, or tsc -b fails). */
async function typeChecks(): Promise<void> {
  const peer = recorder(undefined);
  const agent = undefined as unknown as AgentClient;
  const info: AgentInfo = await sendRequest(peer, Methods.agentInfo);
  // @ts-expect-error the result of chase/agentInfo is AgentInfo, not GpusResult
  const gpus: GpusResult = await sendRequest(peer, Methods.agentInfo);
  // @ts-expect-error chase/gpus takes no parameters
  await sendRequest(peer, Methods.gpus, {});
  // @ts-expect-error chase/startRun needs its parameters
  await sendRequest(peer, Methods.startRun);
  // @ts-expect-error pastHours is a number
  await agent.request(Methods.intensitySeries, { pastHours: '48', futureHours: 24 });
  // @ts-expect-error the extension's client: the result of chase/runs is RunSummary[]
  const one: { runId: string } = await agent.request(Methods.runs);
  // @ts-expect-error a method string is not a method
  await sendRequest(peer, 'chase/gpus');
  // @ts-expect-error claim's gpuUuids is a list
  await sendRequest(peer, LimitsMethods.claim, { pid: 1, gpuUuids: 'GPU-1', runId: 'r' });
  onNotification(peer, Methods.runOutput, (o) => {
    // @ts-expect-error a runOutput notification's text is a string
    const n: number = o.text;
    void n;
  });
  // the agent's side: a handler gets the method's parameter type and must return its result type
  const receiver = { onRequest: () => undefined };
  onRequest(receiver, Methods.stopRun, (p) => {
    // @ts-expect-error stopRun's params are {runId}
    void p.pid;
  });
  // @ts-expect-error chase/gpus answers GpusResult
  onRequest(receiver, Methods.gpus, () => ({ gpus: 'none' }));
  void [info, gpus, one];
}

describe('typed RPC', () => {
  it('sends each request under its method name, with its parameters or none', async () => {
    assert.equal(typeof typeChecks, 'function');
    const peer = recorder({ runs: [], dbPath: '/h.sqlite' });
    const r = await sendRequest(peer, Methods.recentRuns, { limit: 5 });
    assert.equal(r.dbPath, '/h.sqlite');
    await sendRequest(peer, Methods.gpus);
    assert.deepEqual(peer.sent, [['chase/recentRuns', { limit: 5 }], ['chase/gpus']]);
  });

  describe('the limits service\'s methods over a connection: one schema each', () => {
    const up = new PassThrough();
    const down = new PassThrough();
    const server = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
    const client = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
    const claims: ClaimParams[] = [];
    const limits: SetLeaseLimitParams[] = [];
    onRequest(server, LimitsMethods.claim, (p) => (claims.push(p), { leaseId: 'lease-1', gpuUuids: p.gpuUuids }));
    onRequest(server, LimitsMethods.setLimit, (p) => (limits.push(p), { requestedMw: p.powerLimitMw, appliedMw: p.powerLimitMw, clamped: false }));
    onRequest(server, LimitsMethods.hello, () => ({ version: 'test', pid: 1, gpus: [] }));
    server.listen();
    client.listen();
    after(() => {
      client.dispose();
      server.dispose();
    });

    const refused = async (p: Promise<unknown>, message: RegExp) => {
      await assert.rejects(p, (e: unknown) => e instanceof ResponseError && e.code === ErrorCodes.InvalidParams && message.test(e.message));
    };

    it('answers valid parameters through the handler', async () => {
      assert.deepEqual(await sendRequest(client, LimitsMethods.claim, { pid: 42, gpuUuids: ['GPU-a'], runId: 'run-1' }), { leaseId: 'lease-1', gpuUuids: ['GPU-a'] });
      assert.equal((await sendRequest(client, LimitsMethods.setLimit, { leaseId: 'lease-1', powerLimitMw: 150_000 })).appliedMw, 150_000);
      assert.equal((await sendRequest(client, LimitsMethods.hello)).version, 'test');
    });

    it('refuses bad parameters with InvalidParams naming the field; the handler never sees them', async () => {
      const before = [claims.length, limits.length];
      await refused(client.sendRequest(LimitsMethods.claim.method, { pid: -1, gpuUuids: ['GPU-a'], runId: 'r' }), /^chase-limits\/claim: pid must be a process id \(a whole number ≥ 1\) \(got -1\)$/);
      await refused(client.sendRequest(LimitsMethods.claim.method, { pid: 1.5, gpuUuids: ['GPU-a'], runId: 'r' }), /pid must be a process id/);
      await refused(client.sendRequest(LimitsMethods.claim.method, { pid: 42, gpuUuids: [], runId: 'r' }), /gpuUuids must be a list of 1 to 64 GPU UUIDs \(got \[\]\)/);
      await refused(client.sendRequest(LimitsMethods.claim.method, { pid: 42, gpuUuids: ['GPU-a', 'GPU-a'], runId: 'r' }), /gpuUuids must be a list of distinct GPU UUIDs/);
      await refused(client.sendRequest(LimitsMethods.claim.method, { pid: 42, gpuUuids: ['GPU-a'], runId: '' }), /runId must be a run id of 1 to 200 characters \(got ""\)/);
      await refused(client.sendRequest(LimitsMethods.claim.method, { pid: 42, gpuUuids: ['GPU-a'], runId: 'r', cwd: '/root' }), /unknown field "cwd"/);
      await refused(client.sendRequest(LimitsMethods.setLimit.method, { leaseId: 'lease-1', powerLimitMw: 0 }), /powerLimitMw must be a power limit in milliwatts, > 0 \(got 0\)/);
      await refused(client.sendRequest(LimitsMethods.setLimit.method, { leaseId: 'lease-1', powerLimitMw: 1e308 }), /powerLimitMw must be a power limit in milliwatts, at most 10000000 \(10 kW\)/);
      await refused(client.sendRequest(LimitsMethods.setLimit.method, { leaseId: 'x'.repeat(201), powerLimitMw: 100_000 }), /leaseId must be a lease id/);
      await refused(client.sendRequest(LimitsMethods.hello.method, { verbose: true }), /this method takes no parameters/);
      assert.deepEqual([claims.length, limits.length], before);
    });
  });
});
