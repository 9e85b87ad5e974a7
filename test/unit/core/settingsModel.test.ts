import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings, SETTING_KEYS } from '../../../extension/settingsModel';
import { validateSettings } from '../../../agent/server/settings';

const from = (values: Record<string, unknown>) => (key: (typeof SETTING_KEYS)[number]) => values[key];

describe('extension settings', () => {
  it('defaults to replaying the embedded GB trace in real time', () => {
    const r = parseSettings(from({}));
    assert.ok(r.ok);
    assert.deepEqual(r.settings.carbon, { provider: 'replay', zone: 'GB', replaySpeed: 1, staticIntensityGPerKwh: 300, emissionFactorType: 'direct' });
  });

  it('reports each malformed setting by name, with the fix', () => {
    const r = parseSettings(from({ 'carbon.replaySpeed': 'fast', 'carbon.provider': 'coal', 'carbon.zone': ' ' }));
    assert.ok(!r.ok);
    assert.equal(r.problems.length, 3);
    assert.match(r.problems.join('\n'), /chase\.carbon\.replaySpeed.*positive number/);
    assert.match(r.problems.join('\n'), /chase\.carbon\.provider.*replay, static, electricitymaps, watttime, uk-neso/);
    assert.match(r.problems.join('\n'), /chase\.carbon\.zone/);
  });

  it('location, UK region and API base URL: validated and passed on', () => {
    const bad = parseSettings(from({ 'carbon.latitude': 95, 'carbon.ukRegionId': 42, 'carbon.apiBaseUrl': 'ftp://x' }));
    assert.ok(!bad.ok);
    assert.match(bad.problems.join('\n'), /latitude.*−90…90/);
    assert.match(bad.problems.join('\n'), /latitude and chase\.carbon\.longitude go together/);
    assert.match(bad.problems.join('\n'), /ukRegionId.*1 to 17/);
    assert.match(bad.problems.join('\n'), /apiBaseUrl.*http/);
    const good = parseSettings(from({ 'carbon.provider': 'uk-neso', 'carbon.latitude': 51.5, 'carbon.longitude': -0.1, 'carbon.ukPostcode': ' RG10 ' }));
    assert.ok(good.ok);
    assert.equal(good.settings.carbon.ukPostcode, 'RG10');
    assert.equal(good.settings.carbon.latitude, 51.5);
    assert.notEqual(typeof validateSettings(good.settings), 'string');
  });

  it('produces settings the agent accepts', () => {
    const r = parseSettings(from({ 'carbon.zone': 'DE-LU', 'carbon.replaySpeed': 3600, 'carbon.traceFile': ' /tmp/x.csv ' }));
    assert.ok(r.ok);
    const checked = validateSettings(r.settings);
    assert.notEqual(typeof checked, 'string');
    assert.deepEqual(checked, r.settings);
  });

  it('the agent rejects wire settings of the wrong shape with a message naming the setting', () => {
    assert.match(String(validateSettings(undefined)), /carbon/);
    assert.match(String(validateSettings({ carbon: { provider: 'replay', zone: 'GB', replaySpeed: -1 } })), /replaySpeed/);
    assert.match(String(validateSettings({ carbon: { provider: 'nuclear', zone: 'GB', replaySpeed: 1 } })), /provider/);
  });
});
