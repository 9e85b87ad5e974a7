import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chaseApi, isOk, setSetting, waitForState } from './helpers';
import type { ClientState } from '../../../extension/statusModel';

/** Baseline for bench/activation: what a minimal extension's activate() does (a log channel, a status item, a command). */
function minimalActivationMs(): number {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Chase baseline', { log: true });
  const item = vscode.window.createStatusBarItem('chase.baseline', vscode.StatusBarAlignment.Right, 0);
  const cmd = vscode.commands.registerCommand('chase.baseline.noop', () => undefined);
  const ms = performance.now() - t0;
  log.dispose();
  item.dispose();
  cmd.dispose();
  return ms;
}

describe('Chase in a real VS Code', () => {
  after(async () => {
    for (const key of ['carbon.zone', 'carbon.replaySpeed', 'carbon.provider', 'agent.socket']) await setSetting(key, undefined);
  });

  it('activates on startup and reaches a carbon reading from the embedded trace', async () => {
    const api = await chaseApi();
    (globalThis as { __chaseBench?: Record<string, number> }).__chaseBench = { activationMs: api.activationMs, minimalActivationMs: minimalActivationMs() };
    const s = await waitForState(api, isOk(), 'a carbon reading');
    assert.ok(s.kind === 'running' && s.carbon.state === 'ok');
    if (s.kind === 'running' && s.carbon.state === 'ok') {
      assert.equal(s.carbon.source.kind, 'replay');
      assert.ok(s.carbon.intensityGPerKwh > 0);
    }
  });

  it('registers its commands under the Chase category', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const c of ['chase.showDashboard', 'chase.restartAgent', 'chase.showLog']) assert.ok(all.includes(c), c);
  });

  it('switches grid when chase.carbon.zone changes', async () => {
    const api = await chaseApi();
    await setSetting('carbon.zone', 'DE-LU');
    await waitForState(api, isOk('replay DE-LU 2023'), 'the DE-LU replay');
  });

  it('an unknown zone shows an error that names the setting, then recovers', async () => {
    const api = await chaseApi();
    await setSetting('carbon.zone', 'ATLANTIS');
    const s = await waitForState(api, (x) => x.kind === 'running' && x.carbon.state === 'error', 'an error status');
    assert.ok(s.kind === 'running' && s.carbon.state === 'error' && /chase\.carbon\.zone/.test(s.carbon.message));
    await setSetting('carbon.zone', 'GB');
    await waitForState(api, isOk('replay GB 2023'), 'recovery to GB');
  });

  it('a malformed setting shows the problem instead of a number', async () => {
    const api = await chaseApi();
    await setSetting('carbon.replaySpeed', -5);
    const s = await waitForState(api, (x) => x.kind === 'invalid-settings', 'invalid-settings');
    assert.ok(s.kind === 'invalid-settings' && s.problems.some((p) => p.includes('chase.carbon.replaySpeed')));
    await setSetting('carbon.replaySpeed', undefined);
    await waitForState(api, isOk(), 'recovery after fixing the setting');
  });

  it('restarts a killed agent with backoff, showing the error state meanwhile', async () => {
    const api = await chaseApi();
    await waitForState(api, isOk(), 'a reading before the kill');
    const { pid } = await api.agentInfo();
    const down = waitForState(api, (x) => x.kind === 'agent-down', 'agent-down after SIGKILL', 10_000);
    process.kill(pid, 'SIGKILL');
    await down;
    await waitForState(api, isOk(), 'a reading after the restart', 20_000);
    const after = await api.agentInfo();
    assert.notEqual(after.pid, pid);
  });

  it('with chase.agent.socket set, its own agent (restarted, running as the user) hands limits to that service; unset, back', async () => {
    const api = await chaseApi();
    const sock = join(mkdtempSync(join(tmpdir(), 'chase-svc-')), 'chase-agent.sock');
    const notesOf = (s: ClientState) => (s.kind === 'running' && s.gpus ? s.gpus.notes.join(' ') : '');
    const before = await api.agentInfo();
    await setSetting('agent.socket', sock);
    // no NVIDIA driver on the test machine: the agent says it cannot use the service, naming it
    const s = await waitForState(api, (x) => isOk()(x) && notesOf(x).includes(sock), 'an agent that knows the service socket');
    assert.match(notesOf(s), /CHASE_AGENT_SOCKET names the Chase service at .*chase-agent\.sock, but there is no NVIDIA driver here/);
    const own = await api.agentInfo();
    assert.notEqual(own.pid, before.pid, 'a new agent was started with the socket');
    assert.notEqual(own.pid, process.pid);
    await setSetting('agent.socket', undefined);
    await waitForState(api, (x) => isOk()(x) && !notesOf(x).includes(sock), 'an agent without the service');
  });

  it('the dashboard command opens the dashboard webview', async () => {
    await vscode.commands.executeCommand('chase.showDashboard');
    const deadline = Date.now() + 10_000;
    let found = false;
    while (!found && Date.now() < deadline) {
      found = vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('chase.dashboard')));
      if (!found) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(found, 'a chase.dashboard webview tab');
  });
});
