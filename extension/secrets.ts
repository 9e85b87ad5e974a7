/**
 * API keys live in VS Code's SecretStorage (the OS keychain on desktop), never in settings, and reach
 * the agent only inside its settings message — never on a command line, in a log or on disk.
 */
import * as vscode from 'vscode';
import type { CarbonSecrets } from '../agent/protocol/messages';

const KEYS: Record<keyof CarbonSecrets, string> = {
  electricityMapsToken: 'chase.electricityMaps.token',
  wattTimeUsername: 'chase.wattTime.username',
  wattTimePassword: 'chase.wattTime.password',
};

export async function readSecrets(storage: vscode.SecretStorage): Promise<CarbonSecrets> {
  const out: CarbonSecrets = {};
  for (const [field, key] of Object.entries(KEYS) as Array<[keyof CarbonSecrets, string]>) {
    const value = await storage.get(key);
    if (value) out[field] = value;
  }
  return out;
}

export function isChaseSecret(key: string): boolean {
  return Object.values(KEYS).includes(key);
}

/** The "Chase: Set API Key" command: pick a provider, type the key(s), stored in SecretStorage. */
export async function promptForApiKey(storage: vscode.SecretStorage): Promise<boolean> {
  const pick = await vscode.window.showQuickPick(
    [
      { label: 'Electricity Maps', description: 'API token (auth-token header)', id: 'em' as const },
      { label: 'WattTime', description: 'username and password (exchanged for a token at /login)', id: 'wt' as const },
    ],
    { title: 'Chase: Set API Key', placeHolder: 'Which carbon-intensity provider?' },
  );
  if (!pick) return false;
  if (pick.id === 'em') {
    const token = await vscode.window.showInputBox({ title: 'Electricity Maps API token', password: true, ignoreFocusOut: true, prompt: 'Stored in VS Code secret storage; sent only to the Electricity Maps API.' });
    if (!token) return false;
    await storage.store(KEYS.electricityMapsToken, token.trim());
  } else {
    const username = await vscode.window.showInputBox({ title: 'WattTime username', ignoreFocusOut: true });
    if (!username) return false;
    const password = await vscode.window.showInputBox({ title: 'WattTime password', password: true, ignoreFocusOut: true, prompt: 'Stored in VS Code secret storage; sent only to the WattTime API.' });
    if (!password) return false;
    await storage.store(KEYS.wattTimeUsername, username.trim());
    await storage.store(KEYS.wattTimePassword, password);
  }
  void vscode.window.showInformationMessage(`Chase: ${pick.label} credentials saved. Set "chase.carbon.provider" to use them.`);
  return true;
}

export async function clearSecrets(storage: vscode.SecretStorage): Promise<void> {
  for (const key of Object.values(KEYS)) await storage.delete(key);
}
