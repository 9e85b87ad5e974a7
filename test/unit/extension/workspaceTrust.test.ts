/**
 * Issue 12, finding 3, the extension's side: which settings a workspace may not set in Restricted Mode
 * (package.json), and how the extension tells the agent who set chase.carbon.apiBaseUrl. The real
 * VS Code behaviour is tested in code-server by test/ui/workspaceTrust.test.mjs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSettings, settingOrigin, SETTING_KEYS } from '../../../extension/settingsModel';
import { validateSettings } from '../../../agent/protocol/settings';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as {
  capabilities: { untrustedWorkspaces: { supported: unknown; restrictedConfigurations?: string[] } };
};

describe('workspace trust: settings', () => {
  it('restricts every setting that picks where keys go, reads a path, opens a port or names a socket', () => {
    const { supported, restrictedConfigurations } = pkg.capabilities.untrustedWorkspaces;
    // VS Code honours restrictedConfigurations only with supported: "limited" (configurationExtensionPoint.ts, 1.96)
    assert.equal(supported, 'limited');
    assert.deepEqual([...(restrictedConfigurations ?? [])].sort(), [
      'chase.agent.socket',
      'chase.carbon.apiBaseUrl',
      'chase.carbon.provider',
      'chase.carbon.traceFile',
      'chase.metrics.enabled',
      'chase.metrics.host',
      'chase.metrics.port',
    ]);
    for (const key of restrictedConfigurations ?? []) assert.ok((SETTING_KEYS as readonly string[]).includes(key.replace(/^chase\./, '')), `${key} is not a Chase setting`);
  });

  it('a value from a workspace or folder settings file is the workspace\'s, even when the user set one too', () => {
    assert.equal(settingOrigin({ globalValue: 'https://a', workspaceValue: 'https://a' }), 'workspace');
    assert.equal(settingOrigin({ globalValue: 'https://a', workspaceFolderValue: 'https://b' }), 'workspace');
    assert.equal(settingOrigin({ globalValue: 'https://a' }), 'user');
    assert.equal(settingOrigin({ workspaceValue: '' }), 'workspace');
    assert.equal(settingOrigin({}), undefined);
    assert.equal(settingOrigin(undefined), undefined);
  });

  it('the agent is told who set chase.carbon.apiBaseUrl, and accepts it', () => {
    for (const setBy of ['user', 'workspace'] as const) {
      const r = parseSettings(
        (key) => ({ 'carbon.provider': 'electricitymaps', 'carbon.zone': 'DE', 'carbon.apiBaseUrl': 'http://127.0.0.1:9/v3' })[key as string],
        (key) => (key === 'carbon.apiBaseUrl' ? setBy : undefined),
      );
      assert.ok(r.ok);
      assert.equal(r.settings.carbon.baseUrlSetBy, setBy);
      const checked = validateSettings(r.settings);
      assert.notEqual(typeof checked, 'string', String(checked));
      assert.equal((checked as typeof r.settings).carbon.baseUrlSetBy, setBy);
    }
    // without a base URL nothing is said; without an origin nothing is claimed
    const none = parseSettings((key) => ({ 'carbon.provider': 'electricitymaps' })[key as string], () => 'user');
    assert.ok(none.ok && none.settings.carbon.baseUrlSetBy === undefined && none.settings.carbon.baseUrl === undefined);
    const unknown = parseSettings((key) => ({ 'carbon.apiBaseUrl': 'https://proxy.example/v3' })[key as string]);
    assert.ok(unknown.ok && unknown.settings.carbon.baseUrlSetBy === undefined);
  });
});
