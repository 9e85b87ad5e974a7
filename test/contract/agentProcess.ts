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
