import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateSettings } from '../../../agent/protocol/settings';

const base = { provider: 'electricitymaps', zone: 'DE', replaySpeed: 1 };

describe('wire settings: carbon API fields and secrets', () => {
  it('passes the optional fields through and leaves absent ones out', () => {
    const s = validateSettings({
      carbon: { ...base, latitude: 52.5, longitude: 13.4, emissionFactorType: 'direct', disableEstimations: true, baseUrl: 'http://127.0.0.1:1234/v3', baseUrlSetBy: 'workspace', ukPostcode: ' rg10 ', ukRegionId: 13, traceTimeColumn: '' },
      secrets: { electricityMapsToken: 'tok', wattTimePassword: null },
    });
    assert.deepEqual(s, {
      carbon: { ...base, latitude: 52.5, longitude: 13.4, emissionFactorType: 'direct', disableEstimations: true, baseUrl: 'http://127.0.0.1:1234/v3', baseUrlSetBy: 'workspace', ukPostcode: 'RG10', ukRegionId: 13 },
      secrets: { electricityMapsToken: 'tok' },
    });
    assert.deepEqual(validateSettings({ carbon: base }), { carbon: base });
  });

  it('names the bad setting', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ latitude: 91, longitude: 0 }, /chase\.carbon\.latitude must be a number of degrees from -90 to 90 \(got 91\)/],
      [{ latitude: 10 }, /chase\.carbon\.latitude and chase\.carbon\.longitude go together/],
      [{ emissionFactorType: 'both' }, /emissionFactorType must be "direct" or "lifecycle"/],
      [{ disableEstimations: 'yes' }, /disableEstimations must be true or false/],
      [{ baseUrl: 'ftp://x' }, /chase\.carbon\.apiBaseUrl must be an http\(s\) URL/],
      [{ baseUrl: 'https://x.example', baseUrlSetBy: 'root' }, /baseUrlSetBy must be one of user, workspace/],
      [{ ukRegionId: 18 }, /ukRegionId must be a UK NESO region id from 1 to 17/],
      [{ ukPostcode: 'SW1A 1AA' }, /outward part of a UK postcode/],
    ];
    for (const [extra, pattern] of bad) assert.match(String(validateSettings({ carbon: { ...base, ...extra } })), pattern);
  });

  it('never echoes a secret in a message', () => {
    const msg = String(validateSettings({ carbon: base, secrets: { wattTimePassword: 12345678 } }));
    assert.match(msg, /wattTimePassword must be a string/);
    assert.doesNotMatch(msg, /12345678/);
  });
});
