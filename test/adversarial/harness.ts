/**
 * Shared helpers for the adversarial suite (`node test/run.mjs adversarial`): the built agent
 * (dist/agent.js) on the fake NVML library (test/fake-nvml, two A40-like GPUs at 300 W), each test
 * with its own temporary state dir, so what a hostile input does to the limits, the journal and
 * the history is visible and isolated.
 *
 *   const host = fakeGpuHost();                       // temp dir, fake state file, env
 *   const agent = await startAgent(host);             // `serve --stdio`, initialized, carbon ready
 *   await expectInvalidParams(agent.rpc.sendRequest(...), /budgetPct must be/);
 *   await agent.stop();                               // shutdown + exit, asserts exit code 0
 *   assert.deepEqual(host.limits(), host.originalLimits);
 *
 *   const r = await runCli(host, ['run', '--eta', 'NaN', '--', 'true']);   // code, stdout, stderr, ms
 *
 * Add a test: a file `test/adversarial/<finding>.test.ts` using these helpers; tsc emits it and the
 * phase picks it up. Keep each test bounded (time limits on every wait, no fixed sleeps).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMessageConnection, ErrorCodes, ResponseError, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { Methods, type AgentSettings, type CarbonStatus } from '../../agent/protocol/messages';
import { agentJs as builtAgentJs } from '../contract/agentProcess';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState, type FakeGpu } from '../unit/gpu/fakeNvml';

export { cliInProcess } from '../harness/cliInProcess';

/** The agent under test: the build, or CHASE_AGENT_JS (e.g. an older build, to see a test fail before its fix). */
export const agentJs = process.env.CHASE_AGENT_JS ?? builtAgentJs;

export const GPU_A = 'GPU-11111111-aaaa-0000';
export const GPU_B = 'GPU-22222222-bbbb-0001';

export interface FakeGpuHost {
  dir: string;
  /** The fake NVML's state file (limits persist there). */
  stateFile: string;
  /** CHASE_STATE_DIR of the agents started on this host. */
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** The limits (mW) the fake holds now, by UUID. */
  limits(): Record<string, number>;
  originalLimits: Record<string, number>;
}

/** A temp dir with a fake two-GPU host (both A40-like, 100–300 W, at 300 W). */
export function fakeGpuHost(gpus: FakeGpu[] = twoA40s(), extraEnv: NodeJS.ProcessEnv = {}): FakeGpuHost {
  const dir = tempDir('chase-adversarial-');
  const stateFile = join(dir, 'fake-nvml.txt');
  const stateDir = join(dir, 'state');
  const claimsDir = join(dir, 'claims');
  mkdirSync(claimsDir);
  writeFakeState(stateFile, gpus);
  // CHASE_CLAIMS_DIR: machine-wide GPU claims stay inside this test
  const env = fakeEnv(stateFile, stateDir, { CHASE_CLAIMS_DIR: claimsDir, CHASE_LOG_LEVEL: 'info', ...extraEnv });
  delete env.CHASE_HISTORY;
  const limits = () => readFakeLimits(stateFile);
  return { dir, stateFile, stateDir, env, limits, originalLimits: limits() };
}

export function twoA40s(): FakeGpu[] {
  return [
    { uuid: GPU_A, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000, energy: 0, util: 97 },
    { uuid: GPU_B, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 220000, energy: 0, util: 95 },
  ];
}

export const REPLAY_SETTINGS: AgentSettings = { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 3600 } };

export interface Agent {
  proc: ChildProcess;
  rpc: MessageConnection;
  stderr(): string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** Peak resident memory so far (VmHWM), MiB. */
  peakRssMiB(): number;
  /** Sends shutdown + exit and waits for the process; returns its exit code. */
  stop(): Promise<number | null>;
}

/** `chase-agent serve --stdio` on `host`, initialized with `settings`, its carbon source ready. */
export async function startAgent(host: FakeGpuHost, settings: AgentSettings = REPLAY_SETTINGS): Promise<Agent> {
  const proc = spawn(process.execPath, [agentJs, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], env: host.env });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const rpc = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  rpc.onError(() => undefined); // a dead agent is asserted by the tests, not thrown from a stream
  rpc.listen();
  const agent: Agent = {
    proc,
    rpc,
    stderr: () => err,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    peakRssMiB: () => peakRssMiB(proc.pid!),
    async stop() {
      await withTimeout(rpc.sendRequest('shutdown'), 15_000, 'shutdown');
      await rpc.sendNotification('exit');
      const code = await withTimeout(exited, 15_000, 'exit after shutdown');
      rpc.dispose();
      return code;
    },
  };
  await withTimeout(rpc.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { settings } }), 20_000, 'initialize');
  await rpc.sendNotification('initialized', {});
  await waitFor(async () => (await rpc.sendRequest<CarbonStatus>(Methods.carbonStatus.method)).state === 'ok', 10_000, 'a carbon reading');
  return agent;
}

/** Peak resident set size of a live process (VmHWM in /proc), MiB. */
export const peakRssMiB = (pid: number): number => procStatusMiB(pid, 'VmHWM');
/** Resident set size of a live process now (VmRSS in /proc), MiB. */
export const rssMiB = (pid: number): number => procStatusMiB(pid, 'VmRSS');

function procStatusMiB(pid: number, field: string): number {
  const kb = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kb === undefined ? NaN : Number(kb) / 1024;
}

/** Polls `cond` every 50 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `p`, or a rejection naming `what` after `ms` (a request the agent never answers is a hang). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Asserts that `p` fails with a JSON-RPC error of `code` whose message matches `message`; returns the error. */
export async function expectRpcError(p: Promise<unknown>, code: number, message: RegExp, ms = 10_000): Promise<ResponseError<unknown>> {
  try {
    await withTimeout(p, ms, 'the request');
  } catch (e) {
    assert.ok(e instanceof ResponseError, `expected a JSON-RPC error, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return e;
  }
  throw new Error(`expected error ${code} (${String(message)}), got a result`);
}

export const expectInvalidParams = (p: Promise<unknown>, message: RegExp) => expectRpcError(p, ErrorCodes.InvalidParams, message);

/** Texts that are the engine's, not ours: they must never reach a user. */
export const INTERNAL_TEXT = /Cannot read propert|is not a function|is not defined|undefined is not|of undefined|of null|Unexpected token|Maximum call stack/;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `chase-agent ARGS` on `host`; killed (and reported by a null code) after `timeoutMs`. */
export function runCli(host: FakeGpuHost, args: string[], timeoutMs = 15_000, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    // its own process group: a hung command is killed with whatever it started
    const p = spawn(process.execPath, [agentJs, ...args], { env: { ...host.env, ...extraEnv }, cwd: host.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const guard = setTimeout(() => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    p.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

