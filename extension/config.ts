/** The only reader of `workspace.getConfiguration('chase')`; the parsing rules live in settingsModel.ts. */
import * as vscode from 'vscode';
import { adviceSettings, agentSocket, levelOverrides, parseSettings, SECTION, settingOrigin, type ConfigResult, type LevelOverrides } from './settingsModel';

export function readConfig(): ConfigResult {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  return parseSettings(
    (key) => cfg.get(key),
    (key) => settingOrigin(cfg.inspect(key)),
  );
}

export function affectsConfig(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(SECTION);
}

export function readAgentSocket(): string | undefined {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  return agentSocket((key) => cfg.get(key));
}

export function readAdviceSettings(): { windowHours: number; thresholdPct: number } {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  return adviceSettings((key) => cfg.get(key));
}

export function readLevelOverrides(): LevelOverrides {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  return levelOverrides((key) => cfg.get(key));
}
