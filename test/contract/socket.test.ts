/** `chase-agent serve --socket`: the agent as a shared service on a group-restricted Unix socket. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { Methods, type CarbonStatus } from '../../agent/protocol/messages';
import { agentJs } from './agentProcess';

const dir = mkdtempSync(join(tmpdir(), 'chase-sock-'));
const sock = join(dir, 'chase-agent.sock');

async function client() {
  const s = connect(sock);
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  const rpc = createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s));
  rpc.listen();
  await rpc.sendRequest('initialize', { processId: null, rootUri: null, capabilities: {}, initializationOptions: { settings: { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1 } } } });
  await rpc.sendNotification('initialized', {});
  return { s, rpc };
}

describe('agent as a socket service', () => {
  const proc = spawn(process.execPath, [agentJs, 'serve', '--socket', sock, '--socket-group', '0'], { env: { ...process.env, CHASE_STATE_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  after(() => proc.kill('SIGKILL'));

  it('listens on a socket with mode 0660 and the given group', async () => {
    for (let i = 0; i < 100 && !/listening on/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, 0);
  });

  it('serves one client after another; a client leaving does not stop the service', async () => {
    for (let round = 0; round < 2; round++) {
      const { s, rpc } = await client();
      let status = await rpc.sendRequest<CarbonStatus>(Methods.carbonStatus.method);
      for (let i = 0; i < 50 && status.state !== 'ok'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await rpc.sendRequest<CarbonStatus>(Methods.carbonStatus.method);
      }
      assert.equal(status.state, 'ok');
      await rpc.sendRequest('shutdown');
      await rpc.sendNotification('exit');
      await new Promise((r) => s.once('close', r));
      rpc.dispose();
      assert.equal(proc.exitCode, null, 'the service is still running');
    }
  });

  it('SIGTERM stops the service cleanly', async () => {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
