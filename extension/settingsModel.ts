/**
 * The extension's reading of its settings, by the one table (agent/protocol/settings.ts): raw values
 * in, AgentSettings or problems out — each problem names the setting and what it must be. Pure (no
 * `vscode` import) so it is unit-tested; the only reader of the real configuration is
 * extension/config.ts. test/unit/protocol/settings.test.ts fails when the table and package.json's
 * contributes.configuration drift apart.
 */
import type { AgentSettings } from '../agent/protocol/messages';
import { checkSetting, isUnset, readSettings, SETTING_KEYS, toAgentSettings, type SettingKey, type SettingOrigin } from '../agent/protocol/settings';

export const SECTION = 'chase';
export { SETTING_KEYS };

/** A raw value by key (relative to `chase.`): `WorkspaceConfiguration.get`, or a test's table. */
export type SettingGetter = (key: SettingKey) => unknown;

/** One setting's value when it is set and valid; undefined otherwise ({@link parseSettings} reports a bad one). */
function validValue(get: SettingGetter, key: SettingKey): unknown {
  const raw = get(key);
  if (isUnset(key, raw)) return undefined;
  const checked = checkSetting(key, raw);
  return checked.ok ? checked.value : undefined;
}

/** The privileged limits service's socket the agent delegates power limits to, or undefined (the agent sets them itself, or advises). */
export function agentSocket(get: SettingGetter): string | undefined {
  return validValue(get, 'agent.socket') as string | undefined;
}

export type ConfigResult = { ok: true; settings: AgentSettings } | { ok: false; problems: string[] };

/** The part of `WorkspaceConfiguration.inspect()` that says where a value comes from. */
export interface InspectedSetting {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * Who set the value in effect: a workspace or folder value wins over the user's, so any workspace-level
 * value makes it "workspace"; undefined when only the default applies. (In Restricted Mode VS Code
 * drops a workspace's values of the settings in package.json's `restrictedConfigurations` before they
 * reach get() or inspect(); in a trusted workspace they arrive, and this tells them apart.)
 */
export function settingOrigin(i: InspectedSetting | undefined): SettingOrigin | undefined {
  if (i?.workspaceFolderValue !== undefined || i?.workspaceValue !== undefined) return 'workspace';
  return i?.globalValue !== undefined ? 'user' : undefined;
}

/**
 * Pure: raw values in, settings or every problem out (unit-testable without VS Code). Every `chase.*`
 * setting is checked, the extension's own too. `origin` says who set a key (only
 * chase.carbon.apiBaseUrl needs it: the agent sends an API key to a user-set host only).
 */
export function parseSettings(get: SettingGetter, origin: (key: SettingKey) => SettingOrigin | undefined = () => undefined): ConfigResult {
  const { values, problems } = readSettings(get, { keys: SETTING_KEYS, defaults: true });
  if (problems.length > 0) return { ok: false, problems };
  const settings: AgentSettings = toAgentSettings(values);
  const baseUrlSetBy = origin('carbon.apiBaseUrl');
  if (settings.carbon.baseUrl !== undefined && baseUrlSetBy) settings.carbon.baseUrlSetBy = baseUrlSetBy;
  return { ok: true, settings };
}

/** Level thresholds the user set (g/kWh); each falls back to the grid's own percentiles when unset. */
export interface LevelOverrides {
  lowBelowGPerKwh?: number;
  highAboveGPerKwh?: number;
}

export function levelOverrides(get: SettingGetter): LevelOverrides {
  const low = validValue(get, 'statusBar.lowBelow') as number | undefined;
  const high = validValue(get, 'statusBar.highAbove') as number | undefined;
  return { ...(low !== undefined ? { lowBelowGPerKwh: low } : {}), ...(high !== undefined ? { highAboveGPerKwh: high } : {}) };
}
