/**
 * The one settings table (agent/protocol/settings.ts) against package.json, both ways, and the drifts
 * the three old copies had (issue 14 item 2): each reader — the extension, the agent's wire check, the
 * CLI — now says and does what the table says.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkSetting, isUnset, SETTING_KEYS, SETTINGS, validateSettings, type SettingKey, type SettingSpec } from '../../../agent/protocol/settings';
import { DEFAULT_BUDGET_PCT, MAX_BUDGET_PCT, RUN_POLICY_NAMES } from '../../../agent/protocol/messages';
import { parseSettings } from '../../../extension/settingsModel';
import { parseCarbonArgs } from '../../../agent/cli/carbon';
import { UsageError } from '../../../agent/cli/command';

const root = join(__dirname, '..', '..', '..', '..');

interface JsonSetting {
  type: string | string[];
  default?: unknown;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  scope?: string;
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  contributes: {
    configuration: { properties: Record<string, JsonSetting> };
    taskDefinitions: Array<{ type: string; properties: Record<string, JsonSetting> }>;
  };
  capabilities: { untrustedWorkspaces: { restrictedConfigurations: string[] } };
};
const declared = pkg.contributes.configuration.properties;
const spec = (key: SettingKey): SettingSpec => SETTINGS[key];

/** A setting as package.json must declare it, made from its row. */
function asJson(s: SettingSpec): JsonSetting {
  return {
    type: s.default === null ? [s.type, 'null'] : s.type,
    default: s.default,
    ...(s.enum ? { enum: [...s.enum] } : {}),
    ...(s.minimum !== undefined ? { minimum: s.minimum } : {}),
    ...(s.maximum !== undefined ? { maximum: s.maximum } : {}),
    ...(s.maxLength !== undefined ? { maxLength: s.maxLength } : {}),
    scope: s.scope,
  };
}

describe('the settings table and package.json', () => {
  it('declare the same keys, either way', () => {
    assert.deepEqual(Object.keys(declared).sort(), SETTING_KEYS.map((k) => `chase.${k}`).sort());
  });

  it('agree on type, default, enum (the providers), minimum, maximum, maxLength and scope', () => {
    for (const key of SETTING_KEYS) {
      const { type, default: d, enum: e, minimum, maximum, maxLength, scope } = declared[`chase.${key}`];
      assert.deepEqual({ type, default: d, ...(e ? { enum: e } : {}), ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}), ...(maxLength !== undefined ? { maxLength } : {}), scope }, asJson(spec(key)), key);
    }
  });

  it('restrict the same settings in untrusted workspaces', () => {
    const restricted = SETTING_KEYS.filter((k) => spec(k).restricted).map((k) => `chase.${k}`);
    assert.deepEqual([...pkg.capabilities.untrustedWorkspaces.restrictedConfigurations].sort(), restricted.sort());
  });

  it('the "chase" task offers the run policies and budget bounds the protocol has', () => {
    const task = pkg.contributes.taskDefinitions.find((t) => t.type === 'chase');
    assert.ok(task);
    assert.deepEqual(task.properties.policy.enum, [...RUN_POLICY_NAMES]);
    assert.deepEqual([task.properties.budgetPct.minimum, task.properties.budgetPct.maximum, task.properties.budgetPct.default], [0, MAX_BUDGET_PCT, DEFAULT_BUDGET_PCT]);
  });

  it('every default passes its own check', () => {
    for (const key of SETTING_KEYS) {
      const d = spec(key).default;
      if (isUnset(key, d)) continue;
      const r = checkSetting(key, d);
      assert.ok(r.ok && r.value === d, `${key}: ${JSON.stringify(r)}`);
    }
  });

  it('every chase.* key the agent or the extension names in a text is a real setting', () => {
    const named = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/chase\.(?:carbon|metrics|agent|statusBar)\.[A-Za-z]+/g)) named.add(m[0]);
      }
    };
    walk(join(root, 'agent'));
    walk(join(root, 'extension'));
    assert.ok(named.size > 5);
    for (const name of named) assert.ok(name.slice('chase.'.length) in SETTINGS, `${name} is not a setting`);
  });
});

describe('the drifts the three copies had', () => {
  const carbon = { provider: 'replay', zone: 'GB', replaySpeed: 1 };
  const editor = (values: Record<string, unknown>) => parseSettings((key) => values[key]);
  const problems = (values: Record<string, unknown>) => {
    const r = editor(values);
    return r.ok ? [] : r.problems;
  };

  it('metrics port 0: the agent said "1 to 65535" and took it; now all refuse it', () => {
    assert.match(String(validateSettings({ carbon, metrics: { enabled: true, host: '127.0.0.1', port: 0 } })), /^chase\.metrics\.port must be a TCP port from 1 to 65535 \(got 0\)$/);
    assert.match(problems({ 'metrics.port': 0 }).join('\n'), /chase\.metrics\.port must be a TCP port from 1 to 65535/);
  });

  it('values the extension passed on and the agent then refused are refused by the extension, with the same line', () => {
    const cases: Array<[SettingKey, unknown, Record<string, unknown>]> = [
      ['carbon.apiBaseUrl', 'https://', { baseUrl: 'https://' }],
      ['carbon.ukPostcode', 'SW1A 1AA', { ukPostcode: 'SW1A 1AA' }],
      ['carbon.staticIntensity', 5000, { staticIntensityGPerKwh: 5000 }],
    ];
    for (const [key, value, wire] of cases) {
      const said = problems({ [key]: value });
      assert.equal(said.length, 1, `${key}: ${said.join('\n')}`);
      assert.equal(said[0], validateSettings({ carbon: { ...carbon, ...wire } }), key);
      assert.match(said[0], new RegExp(`^chase\\.${key.replace('.', '\\.')} must be `));
    }
  });

  it('replay speed: package.json said at least 0.001, the agent took any positive number and the CLI at most 1e6; now one range', () => {
    for (const speed of [0.0001, 2e6]) {
      assert.match(String(validateSettings({ carbon: { ...carbon, replaySpeed: speed } })), /chase\.carbon\.replaySpeed must be a speed-up from 0\.001 to 1000000/);
      assert.match(problems({ 'carbon.replaySpeed': speed }).join(), /chase\.carbon\.replaySpeed must be a speed-up from 0\.001 to 1000000/);
      assert.throws(() => parseCarbonArgs(['--speed', String(speed)]), /--speed must be a speed-up from 0\.001 to 1000000 \(1 = real time\)/);
    }
  });

  it('a trace file must be an absolute path, as documented (a relative one meant the agent\'s own working directory)', () => {
    assert.match(String(validateSettings({ carbon: { ...carbon, traceFile: 'traces/gb.csv' } })), /chase\.carbon\.traceFile must be the absolute path of a CSV trace/);
    assert.match(problems({ 'carbon.traceFile': 'traces/gb.csv' }).join(), /chase\.carbon\.traceFile must be the absolute path/);
    // on the command line, relative to where the command runs
    assert.equal(parseCarbonArgs(['--trace', 'gb.csv']).settings.traceFile, join(process.cwd(), 'gb.csv'));
  });

  it('the extension\'s own settings are checked too: a bad value is named, not silently ignored', () => {
    assert.match(problems({ 'statusBar.lowBelow': 'high' }).join(), /chase\.statusBar\.lowBelow must be a number of g\/kWh from 0 to 3000, or empty/);
    assert.match(problems({ 'agent.socket': 'chase.sock' }).join(), /chase\.agent\.socket must be the absolute path of the limits service's socket/);
    assert.match(problems({ 'carbon.disableEstimations': 'yes' }).join(), /chase\.carbon\.disableEstimations must be true or false \(got "yes"\)/);
  });

  it('chase-agent carbon takes its defaults from the table: --provider static without --static is the editor\'s 300 g/kWh, not NaN', () => {
    const cli = parseCarbonArgs(['--provider', 'static']).settings;
    const ext = editor({ 'carbon.provider': 'static' });
    assert.ok(ext.ok);
    assert.equal(cli.staticIntensityGPerKwh, 300);
    const { disableEstimations: _noFlag, ...fromEditor } = ext.settings.carbon; // the CLI has no flag for it
    assert.deepEqual(cli, fromEditor);
  });

  it('chase-agent carbon checks a postcode as the agent does, naming the flag', () => {
    assert.throws(() => parseCarbonArgs(['--provider', 'uk-neso', '--postcode', 'SW1A 1AA']), (e: unknown) => e instanceof UsageError && /^--postcode must be the outward part of a UK postcode, e\.g\. "RG10" \(got "SW1A 1AA"\)$/.test(e.message));
    assert.equal(parseCarbonArgs(['--provider', 'uk-neso', '--postcode', 'rg10']).settings.ukPostcode, 'RG10');
  });
});
