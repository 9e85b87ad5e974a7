/** Spawns the built agent (dist/agent.js) and speaks JSON-RPC to it over stdio, as any client would. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import type { AgentInitializationOptions } from '../../agent/protocol/messages';

export const repoRoot = join(__dirname, '..', '..', '..');
export const agentJs = join(repoRoot, 'dist', 'agent.js');

export interface AgentUnderTest {
  proc: ChildProcess;
  rpc: MessageConnection;
  stderr: () => string;
  exited: Promise<number | null>;
}

export function spawnAgent(env: NodeJS.ProcessEnv = {}): AgentUnderTest {
  // A private state dir: the agent's power-limit journal must not mix with other tests' (or the user's).
  const stateDir = mkdtempSync(join(tmpdir(), 'chase-agent-state-'));
  const proc = spawn(process.execPath, [agentJs, 'serve', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CHASE_STATE_DIR: stateDir, ...env } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const rpc = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
  rpc.listen();
  return { proc, rpc, stderr: () => err, exited };
}

export async function initialize(agent: AgentUnderTest, options: AgentInitializationOptions): Promise<unknown> {
  const result = await agent.rpc.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: options });
  await agent.rpc.sendNotification('initialized', {});
  return result;
}

export async function shutdown(agent: AgentUnderTest): Promise<number | null> {
  await agent.rpc.sendRequest('shutdown');
  await agent.rpc.sendNotification('exit');
  const code = await agent.exited;
  agent.rpc.dispose();
  return code;
}

/** Waits until the agent has a carbon reading (its first refresh is asynchronous). */
export async function waitForCarbon(agent: AgentUnderTest, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await agent.rpc.sendRequest<{ state: string }>('chase/carbonStatus');
    if (s.state === 'ok' || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs `chase-agent ARGS…` (the built bundle) to completion. `signal` is sent once `when` holds for
 * the output so far (a condition, never a fixed delay); SIGKILL after `timeoutMs`.
 */
export function runAgentCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: {
    signal?: { name: NodeJS.Signals; when: (out: { stdout: string; stderr: string }) => boolean };
    /** Runs `then` once, when `when` first holds for the output so far (e.g. end a job the agent attached to). */
    onOutput?: { when: (out: { stdout: string; stderr: string }) => boolean; then: () => void };
    timeoutMs?: number;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [agentJs, ...args], { env: { ...process.env, ...env } });
    const out = { stdout: '', stderr: '' };
    let signalled = false;
    let hooked = false;
    const check = (): void => {
      if (opts.onOutput && !hooked && opts.onOutput.when(out)) {
        hooked = true;
        opts.onOutput.then();
      }
      if (!opts.signal || signalled || !opts.signal.when(out)) return;
      signalled = true;
      p.kill(opts.signal.name);
    };
    p.stdout!.on('data', (d: Buffer) => ((out.stdout += d.toString()), check()));
    p.stderr!.on('data', (d: Buffer) => ((out.stderr += d.toString()), check()));
    const guard = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    p.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout: out.stdout, stderr: out.stderr, ms: Date.now() - t0 });
    });
  });
}
