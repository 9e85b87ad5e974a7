import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { levelOverrides, parseSettings, SETTING_KEYS } from '../../../extension/settingsModel';
import { validateSettings } from '../../../agent/protocol/settings';
import { DEFAULT_EMISSION_FACTOR_TYPE } from '../../../agent/protocol/messages';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const from = (values: Record<string, unknown>) => (key: (typeof SETTING_KEYS)[number]) => values[key];

describe('extension settings', () => {
  it('defaults to replaying the embedded GB trace in real time', () => {
    const r = parseSettings(from({}));
    assert.ok(r.ok);
    assert.deepEqual(r.settings.carbon, { provider: 'replay', zone: 'GB', replaySpeed: 1, staticIntensityGPerKwh: 300, emissionFactorType: 'direct', disableEstimations: false });
  });

  it('one emission-factor default: the protocol constant, package.json and the extension agree', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, { default?: unknown }> } } };
    assert.equal(pkg.contributes.configuration.properties['chase.carbon.emissionFactorType'].default, DEFAULT_EMISSION_FACTOR_TYPE);
    assert.equal(DEFAULT_EMISSION_FACTOR_TYPE, 'direct', 'what the embedded traces replay');
  });

  it('reports each malformed setting by name, with the fix', () => {
    const r = parseSettings(from({ 'carbon.replaySpeed': 'fast', 'carbon.provider': 'coal', 'carbon.zone': ' ' }));
    assert.ok(!r.ok);
    assert.equal(r.problems.length, 3);
    assert.match(r.problems.join('\n'), /chase\.carbon\.replaySpeed must be a speed-up from 0\.001/);
    assert.match(r.problems.join('\n'), /chase\.carbon\.provider.*replay, static, electricitymaps, watttime, uk-neso/);
    assert.match(r.problems.join('\n'), /chase\.carbon\.zone/);
  });

  it('location, UK region and API base URL: validated and passed on', () => {
    const bad = parseSettings(from({ 'carbon.latitude': 95, 'carbon.ukRegionId': 42, 'carbon.apiBaseUrl': 'ftp://x' }));
    assert.ok(!bad.ok);
    assert.match(bad.problems.join('\n'), /chase\.carbon\.latitude must be a number of degrees from -90 to 90 \(got 95\)/);
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

  it('metrics: off on loopback port 9477 by default; validated and passed on; the agent accepts them', () => {
    const d = parseSettings(from({}));
    assert.ok(d.ok);
    assert.deepEqual(d.settings.metrics, { enabled: false, host: '127.0.0.1', port: 9477 });
    const on = parseSettings(from({ 'metrics.enabled': true, 'metrics.host': ' 0.0.0.0 ', 'metrics.port': 9100 }));
    assert.ok(on.ok);
    assert.deepEqual(on.settings.metrics, { enabled: true, host: '0.0.0.0', port: 9100 });
    assert.deepEqual(validateSettings(on.settings), on.settings);
    const bad = parseSettings(from({ 'metrics.enabled': 'yes', 'metrics.host': 'http://x', 'metrics.port': 0 }));
    assert.ok(!bad.ok);
    assert.equal(bad.problems.length, 3);
    assert.match(bad.problems.join('\n'), /chase\.metrics\.enabled/);
    assert.match(bad.problems.join('\n'), /chase\.metrics\.host.*127\.0\.0\.1/);
    assert.match(bad.problems.join('\n'), /chase\.metrics\.port.*1 to 65535/);
    // the agent: absent = off; host defaults to loopback; a bad port names the setting
    const agentSide = validateSettings({ carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1 }, metrics: { enabled: true, port: 9477 } });
    assert.ok(typeof agentSide !== 'string');
    assert.deepEqual(agentSide.metrics, { enabled: true, host: '127.0.0.1', port: 9477 });
    assert.equal((validateSettings({ carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1 } }) as { metrics?: unknown }).metrics, undefined);
    assert.match(String(validateSettings({ carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1 }, metrics: { enabled: true, host: '127.0.0.1', port: -1 } })), /chase\.metrics\.port/);
  });

  it('the agent rejects wire settings of the wrong shape with a message naming the setting', () => {
    assert.match(String(validateSettings(undefined)), /carbon/);
    assert.match(String(validateSettings({ carbon: { provider: 'replay', zone: 'GB', replaySpeed: -1 } })), /replaySpeed/);
    assert.match(String(validateSettings({ carbon: { provider: 'nuclear', zone: 'GB', replaySpeed: 1 } })), /provider/);
  });
});

describe('level thresholds from settings', () => {
  it('numbers ≥ 0 are taken, anything else means "the grid\'s own"', () => {
    assert.deepEqual(levelOverrides(from({ 'statusBar.lowBelow': 80, 'statusBar.highAbove': 250 })), { lowBelowGPerKwh: 80, highAboveGPerKwh: 250 });
    assert.deepEqual(levelOverrides(from({ 'statusBar.lowBelow': null, 'statusBar.highAbove': 'high' })), {});
  });
});
