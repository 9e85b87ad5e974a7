/**
 * The one declaration of Chase's settings: each key's type, default, bounds, what a value must be
 * (the message), scope, whether a workspace may set it in Restricted Mode, and where the agent finds
 * it on the wire. Everything else reads this table:
 *
 * - the extension's one reader (extension/settingsModel.ts) checks every `chase.*` value and builds
 *   the AgentSettings it sends;
 * - the agent checks `initialize` and `chase/configure` with {@link validateSettings} (the schema of
 *   `Methods.configure`), whose messages name the setting a user can change (`chase.carbon.apiBaseUrl`,
 *   not the wire's `baseUrl`);
 * - `chase-agent carbon` takes its defaults and checks from here, naming its own flags;
 * - test/unit/protocol/settings.test.ts fails when package.json's `contributes.configuration` or
 *   `restrictedConfigurations` and this table differ, either way.
 *
 * One message form on every side: "NAME must be WHAT (got VALUE)".
 *
 * A setting may be unset (null, or "" for text): then its default applies where the reader applies
 * defaults (the editor, the CLI); the agent leaves an unset optional field out.
 *
 * This file imports only types from messages.ts (messages.ts imports this one: no import loop at run time).
 */
import * as v from 'valibot';
import type { AgentSettings, CarbonSecrets, CarbonSettings, MetricsSettings } from './messages';
import { shown, text } from './paramSchema';
import { MAX_INTENSITY_G_PER_KWH } from './units';

/** Every carbon source, for settings validation and help texts on both sides. */
export const CARBON_SOURCE_KINDS = ['replay', 'static', 'electricitymaps', 'watttime', 'uk-neso'] as const;
export type CarbonSourceKind = (typeof CARBON_SOURCE_KINDS)[number];

/** Electricity Maps' emission factors: operational (`direct`) or life-cycle (`lifecycle`). */
export const EMISSION_FACTOR_TYPES = ['direct', 'lifecycle'] as const;
export type EmissionFactorType = (typeof EMISSION_FACTOR_TYPES)[number];

/** Where a setting's value came from: the user's own settings (or command line), or a workspace's settings file. */
export const SETTING_ORIGINS = ['user', 'workspace'] as const;
export type SettingOrigin = (typeof SETTING_ORIGINS)[number];

/** VS Code's configuration scopes that Chase uses (package.json `scope`). */
export type SettingScope = 'machine' | 'machine-overridable';

/**
 * How the agent treats a field absent from the wire: `required` is refused, `optional` is left out,
 * `defaulted` gets the table's default.
 */
export type WirePresence = 'required' | 'optional' | 'defaulted';
type WireField = { section: 'carbon'; field: keyof CarbonSettings; presence: WirePresence } | { section: 'metrics'; field: keyof MetricsSettings; presence: WirePresence };

export interface SettingSpec {
  /** JSON type in package.json; a setting whose default is null is `[type, "null"]` there. */
  readonly type: 'string' | 'number' | 'integer' | 'boolean';
  /** The value when nobody set one; null or "" means "unset" (the feature it tunes is off or automatic). */
  readonly default: string | number | boolean | null;
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly maxLength?: number;
  /** A text value must match (after trimming). */
  readonly pattern?: RegExp;
  /** Text is stored upper-case (postcodes). */
  readonly upperCase?: boolean;
  /** What a value must be, for "NAME must be WHAT (got VALUE)". */
  readonly what: string;
  readonly scope: SettingScope;
  /** Listed in `capabilities.untrustedWorkspaces.restrictedConfigurations`: in Restricted Mode a workspace's value is ignored. */
  readonly restricted: boolean;
  /** Where the agent receives it (AgentSettings); absent for the extension's own settings. */
  readonly wire?: WireField;
}

const carbon = (field: keyof CarbonSettings, presence: WirePresence = 'optional'): WireField => ({ section: 'carbon', field, presence });
const metrics = (field: keyof MetricsSettings, presence: WirePresence): WireField => ({ section: 'metrics', field, presence });
const intensity = `a number of g/kWh from 0 to ${MAX_INTENSITY_G_PER_KWH}`;
/** An absolute path (POSIX `/…` or Windows `C:\…` / `\\server\…`): the agent's working directory means nothing to a user. */
const ABSOLUTE_PATH = /^(\/|[A-Za-z]:[\\/]|\\\\)/;

/** The settings, keyed relative to `chase.` (VS Code's `getConfiguration('chase').get(key)`). */
export const SETTINGS = {
  'carbon.provider': { type: 'string', enum: CARBON_SOURCE_KINDS, default: 'replay', what: `one of ${CARBON_SOURCE_KINDS.join(', ')}`, scope: 'machine-overridable', restricted: true, wire: carbon('provider', 'required') },
  'carbon.zone': { type: 'string', default: 'GB', maxLength: 100, what: 'a grid zone such as "GB"', scope: 'machine-overridable', restricted: false, wire: carbon('zone', 'required') },
  'carbon.traceFile': { type: 'string', default: '', pattern: ABSOLUTE_PATH, what: 'the absolute path of a CSV trace, e.g. "/data/trace.csv"', scope: 'machine-overridable', restricted: true, wire: carbon('traceFile') },
  'carbon.replaySpeed': { type: 'number', default: 1, minimum: 0.001, maximum: 1_000_000, what: 'a speed-up from 0.001 to 1000000 (1 = real time)', scope: 'machine-overridable', restricted: false, wire: carbon('replaySpeed', 'required') },
  'carbon.staticIntensity': { type: 'number', default: 300, minimum: 0, maximum: MAX_INTENSITY_G_PER_KWH, what: intensity, scope: 'machine-overridable', restricted: false, wire: carbon('staticIntensityGPerKwh') },
  'carbon.latitude': { type: 'number', default: null, minimum: -90, maximum: 90, what: 'a number of degrees from -90 to 90', scope: 'machine-overridable', restricted: false, wire: carbon('latitude') },
  'carbon.longitude': { type: 'number', default: null, minimum: -180, maximum: 180, what: 'a number of degrees from -180 to 180', scope: 'machine-overridable', restricted: false, wire: carbon('longitude') },
  // `direct` is what the embedded traces replay, so a switch from replay to Electricity Maps compares
  // like with like (Electricity Maps itself defaults to lifecycle when the parameter is absent)
  'carbon.emissionFactorType': { type: 'string', enum: EMISSION_FACTOR_TYPES, default: 'direct', what: '"direct" or "lifecycle"', scope: 'machine-overridable', restricted: false, wire: carbon('emissionFactorType') },
  'carbon.disableEstimations': { type: 'boolean', default: false, what: 'true or false', scope: 'machine-overridable', restricted: false, wire: carbon('disableEstimations') },
  'carbon.apiBaseUrl': { type: 'string', default: '', pattern: /^https?:\/\/[^\s/]+/i, what: 'an http(s) URL such as "https://proxy.example/v3"', scope: 'machine-overridable', restricted: true, wire: carbon('baseUrl') },
  'carbon.ukRegionId': { type: 'integer', default: null, minimum: 1, maximum: 17, what: 'a UK NESO region id from 1 to 17', scope: 'machine-overridable', restricted: false, wire: carbon('ukRegionId') },
  'carbon.ukPostcode': { type: 'string', default: '', pattern: /^[A-Z]{1,2}[0-9][A-Z0-9]?$/i, upperCase: true, what: 'the outward part of a UK postcode, e.g. "RG10"', scope: 'machine-overridable', restricted: false, wire: carbon('ukPostcode') },
  // handed to the agent at its start (CHASE_AGENT_SOCKET), not in AgentSettings
  'agent.socket': { type: 'string', default: '', pattern: ABSOLUTE_PATH, what: 'the absolute path of the limits service\'s socket, e.g. "/run/chase-agent/chase-agent.sock"', scope: 'machine', restricted: true },
  'metrics.enabled': { type: 'boolean', default: false, what: 'true or false', scope: 'machine-overridable', restricted: true, wire: metrics('enabled', 'required') },
  'metrics.host': { type: 'string', default: '127.0.0.1', maxLength: 255, pattern: /^[^\s/]+$/, what: 'an interface address: "127.0.0.1" (this machine only) or "0.0.0.0" (all interfaces)', scope: 'machine-overridable', restricted: true, wire: metrics('host', 'defaulted') },
  'metrics.port': { type: 'integer', default: 9477, minimum: 1, maximum: 65535, what: 'a TCP port from 1 to 65535', scope: 'machine-overridable', restricted: true, wire: metrics('port', 'required') },
  // the status bar's own (extension/statusModel.ts); unset: the grid's own percentiles
  'statusBar.lowBelow': { type: 'number', default: null, minimum: 0, maximum: MAX_INTENSITY_G_PER_KWH, what: `${intensity}, or empty for the grid's own 33rd percentile`, scope: 'machine-overridable', restricted: false },
  'statusBar.highAbove': { type: 'number', default: null, minimum: 0, maximum: MAX_INTENSITY_G_PER_KWH, what: `${intensity}, or empty for the grid's own 67th percentile`, scope: 'machine-overridable', restricted: false },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];
const spec = (key: SettingKey): SettingSpec => SETTINGS[key];

/** The one emission-factor default (settings, `chase-agent carbon`, the provider, the forecast bench). */
export const DEFAULT_EMISSION_FACTOR_TYPE: EmissionFactorType = SETTINGS['carbon.emissionFactorType'].default;

/** How a setting is named in messages by default: its VS Code key. */
export const settingName = (key: SettingKey): string => `chase.${key}`;

/** Absent, null, or blank text. */
const isBlank = (value: unknown): boolean => value === undefined || value === null || (typeof value === 'string' && value.trim() === '');

/**
 * Whether `value` leaves the setting unset: absent or null, or blank text where "" or null is the
 * setting's own default (a blank zone is a mistake, a blank trace file means none).
 */
export function isUnset(key: SettingKey, value: unknown): boolean {
  const d = spec(key).default;
  return value === undefined || value === null || ((d === '' || d === null) && isBlank(value));
}

const schemas = new Map<SettingKey, v.GenericSchema<unknown, unknown>>();

/** The valibot schema of one setting's (set) value, made from its row; every issue says `what`. */
function schemaOf(key: SettingKey): v.GenericSchema<unknown, unknown> {
  const cached = schemas.get(key);
  if (cached) return cached;
  const s = spec(key);
  const { what } = s;
  let schema: v.GenericSchema<unknown, unknown>;
  if (s.type === 'boolean') schema = v.boolean(what);
  else if (s.type !== 'string') {
    const inBounds = (n: number) => (s.type !== 'integer' || Number.isInteger(n)) && (s.minimum === undefined || n >= s.minimum) && (s.maximum === undefined || n <= s.maximum);
    schema = v.pipe(v.number(what), v.finite(what), v.check(inBounds, what));
  } else if (s.enum) schema = v.picklist(s.enum, what);
  else {
    schema = v.pipe(
      text(what, { maxLength: s.maxLength }),
      v.trim(),
      v.minLength(1, what),
      v.check((t) => s.pattern === undefined || s.pattern.test(t), what),
      v.transform((t) => (s.upperCase ? t.toUpperCase() : t)),
    );
  }
  schemas.set(key, schema);
  return schema;
}

export type SettingCheck = { ok: true; value: unknown } | { ok: false; problem: string };

/** Checks one setting's value (not unset): the value as stored (trimmed text), or "NAME must be WHAT (got VALUE)". */
export function checkSetting(key: SettingKey, value: unknown, name: string = settingName(key)): SettingCheck {
  const r = v.safeParse(schemaOf(key), value, { abortPipeEarly: true });
  return r.success ? { ok: true, value: r.output } : { ok: false, problem: `${name} must be ${spec(key).what} (got ${shown(value)})` };
}

export interface ReadSettingsOptions {
  /** Which settings to read. */
  keys: readonly SettingKey[];
  /** Fill in the table's default for an unset value (the editor, the CLI); else only `defaulted` wire fields get it. */
  defaults: boolean;
  /** How messages name a setting: `chase.carbon.zone` (the default), or a CLI flag. */
  name?: (key: SettingKey) => string;
}

/** Each setting checked against its row: the values (unset ones absent) or every problem, one line each. */
export function readSettings(get: (key: SettingKey) => unknown, o: ReadSettingsOptions): { values: Map<SettingKey, unknown>; problems: string[] } {
  const name = o.name ?? settingName;
  const values = new Map<SettingKey, unknown>();
  const problems: string[] = [];
  const given = (key: SettingKey) => !isUnset(key, get(key));
  for (const key of o.keys) {
    const s = spec(key);
    let raw = get(key);
    if (isUnset(key, raw) && (o.defaults || s.wire?.presence === 'defaulted')) raw = s.default;
    if (isUnset(key, raw)) {
      if (s.wire?.presence === 'required') problems.push(`${name(key)} must be ${s.what} (got ${shown(raw)})`);
      continue;
    }
    const checked = checkSetting(key, raw, name(key));
    if (checked.ok) values.set(key, checked.value);
    else problems.push(checked.problem);
  }
  // one place needs both: a location is a pair
  if (o.keys.includes('carbon.latitude') && given('carbon.latitude') !== given('carbon.longitude')) {
    problems.push(`${name('carbon.latitude')} and ${name('carbon.longitude')} go together: set both or neither`);
  }
  return { values, problems };
}

/** The settings the agent receives (`keys` of {@link readSettings}): carbon's, and metrics' with `withMetrics`. */
export function wireKeys(withMetrics: boolean): SettingKey[] {
  return SETTING_KEYS.filter((k) => spec(k).wire !== undefined && (withMetrics || spec(k).wire?.section !== 'metrics'));
}

/** AgentSettings (without secrets) from checked values: each value to its wire field. */
export function toAgentSettings(values: ReadonlyMap<SettingKey, unknown>): AgentSettings {
  const sections: { carbon: Record<string, unknown>; metrics?: Record<string, unknown> } = { carbon: {} };
  for (const [key, value] of values) {
    const wire = spec(key).wire;
    if (wire) (sections[wire.section] ??= {})[wire.field] = value;
  }
  // checked against the table above: each field's type is the row's
  return sections as unknown as AgentSettings;
}

// ---- the agent's side: initialize / chase/configure ----------------------------------------------

const secretsSchema = v.nullish(
  v.object(
    {
      electricityMapsToken: v.nullish(v.string('a string')),
      wattTimeUsername: v.nullish(v.string('a string')),
      wattTimePassword: v.nullish(v.string('a string')),
    },
    'an object',
  ),
);

/** Fields of CarbonSettings that are not settings a user sets: another client's, or the extension's own. */
const WIRE_ONLY = {
  traceTimeColumn: text('a column name of the trace'),
  traceValueColumn: text('a column name of the trace'),
  baseUrlSetBy: v.picklist(SETTING_ORIGINS, `one of ${SETTING_ORIGINS.join(', ')}`),
} as const;

/**
 * Checks settings that arrive over the wire (`initialize`, `chase/configure`: the latter's schema in
 * messages.ts is this check). The extension checks them too, but the agent is also driven by other
 * clients, so it never trusts the shape. Returns the settings or one line naming the bad setting(s).
 */
export function validateSettings(raw: unknown): AgentSettings | string {
  const wire = (raw ?? {}) as { carbon?: unknown; metrics?: unknown; secrets?: unknown };
  if (typeof wire !== 'object' || typeof wire.carbon !== 'object' || wire.carbon === null) return 'Settings are missing the "carbon" section.';
  if (wire.metrics !== undefined && wire.metrics !== null && typeof wire.metrics !== 'object') return 'Settings "metrics" must be an object.';
  const sections = wire as { carbon: Record<string, unknown>; metrics?: Record<string, unknown> | null };
  const withMetrics = typeof sections.metrics === 'object' && sections.metrics !== null;
  const { values, problems } = readSettings(
    (key) => {
      const w = spec(key).wire;
      return w ? sections[w.section]?.[w.field] : undefined;
    },
    { keys: wireKeys(withMetrics), defaults: false },
  );
  const settings = toAgentSettings(values);
  for (const [field, schema] of Object.entries(WIRE_ONLY)) {
    const value = sections.carbon[field];
    if (isBlank(value)) continue;
    const r = v.safeParse(schema, value);
    if (r.success) (settings.carbon as unknown as Record<string, unknown>)[field] = r.output;
    else problems.push(`carbon.${field} must be ${r.issues[0].message} (got ${shown(value)})`);
  }
  const secrets = v.safeParse(secretsSchema, wire.secrets);
  // never echo a secret's value
  if (!secrets.success) {
    const field = v.getDotPath(secrets.issues[0]);
    problems.push(field ? `The secret ${field} must be a string.` : 'Settings "secrets" must be an object.');
  } else if (secrets.output) settings.secrets = Object.fromEntries(Object.entries(secrets.output).filter(([, s]) => !isBlank(s))) as CarbonSecrets;
  if (problems.length > 0) return problems.slice(0, 3).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
  return settings;
}
