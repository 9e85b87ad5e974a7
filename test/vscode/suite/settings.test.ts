import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { SETTING_KEYS } from '../../../extension/settingsModel';
import { EXTENSION_ID } from './helpers';

interface Contributes {
  configuration: { properties: Record<string, { scope?: string; markdownDescription?: string; default?: unknown }> };
  commands: Array<{ command: string; category?: string; title: string }>;
}

describe('package.json contributions', () => {
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  const contributes = (JSON.parse(readFileSync(join(ext.extensionPath, 'package.json'), 'utf8')) as { contributes: Contributes }).contributes;

  it('declares exactly the settings extension/settingsModel.ts reads', () => {
    const declared = Object.keys(contributes.configuration.properties).sort();
    assert.deepEqual(declared, SETTING_KEYS.map((k) => `chase.${k}`).sort());
  });

  it('every setting has a scope and a markdown description', () => {
    for (const [key, p] of Object.entries(contributes.configuration.properties)) {
      assert.ok(p.scope, `${key} has no scope`);
      assert.ok(p.markdownDescription && p.markdownDescription.length > 20, `${key} has no markdownDescription`);
    }
  });

  it('VS Code sees the declared defaults', () => {
    const cfg = vscode.workspace.getConfiguration('chase');
    for (const [key, p] of Object.entries(contributes.configuration.properties)) {
      assert.deepEqual(cfg.inspect(key.slice('chase.'.length))?.defaultValue, p.default, key);
    }
  });

  it('every command is in the Chase category', () => {
    for (const c of contributes.commands) assert.equal(c.category, 'Chase', c.command);
  });
});
