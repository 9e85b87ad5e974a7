import * as vscode from 'vscode';
import type { ChaseApi } from '../../../extension/extension';
import type { ClientState } from '../../../extension/statusModel';

export const EXTENSION_ID = 'chase-carbon.chase-vscode';

export async function chaseApi(): Promise<ChaseApi> {
  const ext = vscode.extensions.getExtension<ChaseApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded`);
  return ext.activate();
}

/** Resolves with the first state (current or future) that matches, or rejects after timeoutMs. */
export function waitForState(api: ChaseApi, pred: (s: ClientState) => boolean, what: string, timeoutMs = 15_000): Promise<ClientState> {
  if (pred(api.state)) return Promise.resolve(api.state);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out waiting for ${what}; last state ${JSON.stringify(api.state)}`));
    }, timeoutMs);
    const sub = api.onDidChangeState((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

export const isOk = (label?: string) => (s: ClientState) =>
  s.kind === 'running' && s.carbon.state === 'ok' && (label === undefined || s.carbon.source.label === label);

/** Sets a user-level value; a workspace-level value (e.g. from the opened folder's settings) would win, so it is cleared. */
export async function setSetting(key: string, value: unknown): Promise<void> {
  const cfg = vscode.workspace.getConfiguration('chase');
  if (cfg.inspect(key)?.workspaceValue !== undefined) await cfg.update(key, undefined, vscode.ConfigurationTarget.Workspace);
  await cfg.update(key, value, vscode.ConfigurationTarget.Global);
}
