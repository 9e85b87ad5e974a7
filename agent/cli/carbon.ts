/**
 * `chase-agent carbon`: reads the configured carbon source once and prints the current intensity
 * and the next hours of the source's own forecast. Handy headless and for checking API keys.
 * Credentials come from the environment (CHASE_ELECTRICITYMAPS_TOKEN, CHASE_WATTTIME_USERNAME,
 * CHASE_WATTTIME_PASSWORD) and are never printed.
 */
import { resolve } from 'node:path';
import type { CarbonSettings, ForecastPoint } from '../protocol/messages';
import { CARBON_SOURCE_KINDS, SETTINGS, toAgentSettings, type SettingKey, type SettingSpec } from '../protocol/settings';
import { createProvider } from '../carbon/index';
import type { ApiProviderDeps } from '../carbon/apiProvider';
import { CarbonSourceError, type CarbonProvider, type CarbonReading } from '../carbon/provider';
import { RunCarbon } from '../runs/runCarbon';
import { secretsFromEnv } from '../carbon/secrets';
import { numberArg, parseCli, settingFlags, type CliCommand } from './command';
import { userMessage } from '../log';
import { HOUR_MS } from '../protocol/units';
import { formatUtc } from '../protocol/format';

const setting = (key: SettingKey): SettingSpec => SETTINGS[key];

/** WattTime has no region "GB": its default region here. */
const WATTTIME_ZONE = 'CAISO_NORTH';

const usage = `chase-agent carbon [--provider P] [--zone Z] [--hours N] [--json] [options]

Prints the current carbon intensity from a provider and the next hours of its own forecast.

  --provider P     ${CARBON_SOURCE_KINDS.join(', ')} (default ${setting('carbon.provider').default})
  --zone Z         grid zone / region (default ${setting('carbon.zone').default}; WattTime: ${WATTTIME_ZONE})
  --hours N        forecast hours to print (default 6)
  --json           machine-readable output
  --lat X --lon Y  location instead of a zone (Electricity Maps, WattTime)
  --region-id N    UK NESO region id ${setting('carbon.ukRegionId').minimum}-${setting('carbon.ukRegionId').maximum};  --postcode PC  UK NESO outward postcode
  --emission F     Electricity Maps: direct or lifecycle (default ${setting('carbon.emissionFactorType').default}, as the extension and the traces)
  --trace FILE     replay this CSV;  --speed S  replay speed (default ${setting('carbon.replaySpeed').default})
  --static G       intensity for --provider static, g/kWh (default ${setting('carbon.staticIntensity').default})
  --base-url URL   the API's base URL (proxies, tests)
  --timeout-ms N   per-request timeout (default 10000)

Credentials are read from CHASE_ELECTRICITYMAPS_TOKEN, CHASE_WATTTIME_USERNAME and
CHASE_WATTTIME_PASSWORD. Exit code 1 when the source cannot be read (the message says why).`;

interface Args {
  settings: CarbonSettings;
  hours: number;
  json: boolean;
  timeoutMs?: number;
}

const OPTIONS = {
  provider: { type: 'string' },
  zone: { type: 'string' },
  hours: { type: 'string' },
  json: { type: 'boolean', default: false },
  lat: { type: 'string' },
  lon: { type: 'string' },
  'region-id': { type: 'string' },
  postcode: { type: 'string' },
  emission: { type: 'string' },
  trace: { type: 'string' },
  speed: { type: 'string' },
  static: { type: 'string' },
  'base-url': { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

/** The settings `carbon` reads from its flags (checks, defaults and messages from the settings table). */
const SETTING_FLAGS = {
  provider: 'carbon.provider',
  zone: 'carbon.zone',
  trace: 'carbon.traceFile',
  speed: 'carbon.replaySpeed',
  static: 'carbon.staticIntensity',
  lat: 'carbon.latitude',
  lon: 'carbon.longitude',
  emission: 'carbon.emissionFactorType',
  'base-url': 'carbon.apiBaseUrl',
  'region-id': 'carbon.ukRegionId',
  postcode: 'carbon.ukPostcode',
} as const satisfies Record<string, SettingKey>;

export function parseCarbonArgs(argv: string[]): Args {
  const { values } = parseCli(argv, OPTIONS);
  // a trace named on the command line is relative to where the command runs
  const trace = values.trace !== undefined && values.trace.trim() !== '' ? resolve(values.trace) : values.trace;
  const read = settingFlags({ ...values, trace }, SETTING_FLAGS, (key) => (key === 'carbon.zone' && values.provider === 'watttime' ? WATTTIME_ZONE : undefined));
  const { carbon } = toAgentSettings(read);
  // typed by the user on their own command line: the key may go there (agent/carbon/endpoint.ts)
  const settings: CarbonSettings = carbon.baseUrl !== undefined ? { ...carbon, baseUrlSetBy: 'user' } : carbon;
  const hours = numberArg('hours', values.hours, 6, { min: 0, max: 72 });
  const timeoutMs = values['timeout-ms'] === undefined ? undefined : numberArg('timeout-ms', values['timeout-ms'], undefined, { min: 1, max: 600_000, integer: true });
  return { settings, hours, json: values.json, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

/** Hourly means of a finer forecast, so 5-minute WattTime points print as one line per hour. */
function hourly(points: ForecastPoint[]): Array<{ timestampMs: number; intensityGPerKwh: number }> {
  const groups = new Map<number, number[]>();
  for (const p of points) {
    const h = Math.floor(p.timestampMs / HOUR_MS) * HOUR_MS;
    groups.set(h, [...(groups.get(h) ?? []), p.intensityGPerKwh]);
  }
  return [...groups].map(([t, vs]) => ({ timestampMs: t, intensityGPerKwh: vs.reduce((a, b) => a + b, 0) / vs.length }));
}

export interface CarbonCliIo {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  now(): number;
}

export async function runCarbon(argv: string[], io: CarbonCliIo): Promise<number> {
  const args = parseCarbonArgs(argv);
  const deps: ApiProviderDeps = args.timeoutMs ? { http: { timeoutMs: args.timeoutMs } } : {};
  const wall = io.now();
  let provider: CarbonProvider | undefined;
  try {
    provider = createProvider(args.settings, wall, secretsFromEnv(io.env), deps);
    const clock = new RunCarbon(provider);
    const reading: CarbonReading = await provider.latest(wall);
    const nextPeriod = clock.periodStart(clock.virtualNow(wall)) + provider.periodMs;
    // whole clock hours from the next one, so --hours N prints N full hourly rows even when the
    // provider's period (30 min, 5 min) puts the next period inside an hour
    const firstHourMs = Math.ceil(nextPeriod / HOUR_MS) * HOUR_MS;
    let forecast: ForecastPoint[] | undefined;
    let forecastError: string | undefined;
    if (args.hours > 0) {
      try {
        forecast = await provider.forecast(firstHourMs, args.hours);
      } catch (e) {
        forecastError = userMessage(e, 'chase-agent carbon');
      }
    }
    const notices = (provider as { notices?: string[] }).notices ?? [];
    if (args.json) {
      io.out(JSON.stringify({ source: provider.info, periodMs: provider.periodMs, reading, forecast: forecast ?? null, ...(forecastError ? { forecastError } : {}), notices }, null, 2) + '\n');
      return 0;
    }
    const { info } = provider;
    const lines = [
      `Source:   ${info.label} (${info.signal} signal, zone ${info.zone})`,
      `Data:     ${info.attribution}`,
      `Now:      ${Math.round(reading.intensityGPerKwh)} g/kWh for the period from ${formatUtc(reading.timestampMs)}${reading.stale ? `  [STALE: ${reading.staleReason ?? 'old reading'}]` : ''}`,
      ...notices.map((n) => `Note:     ${n}`),
    ];
    if (forecastError) lines.push(`Forecast: unavailable — ${forecastError}`);
    else if (args.hours > 0 && !forecast) lines.push(`Forecast: ${info.label} has no forecast for this account or zone.`);
    else if (forecast) {
      lines.push(`Forecast: next ${args.hours} h (hourly means)`);
      for (const p of hourly(forecast)) lines.push(`  ${formatUtc(p.timestampMs)}  ${Math.round(p.intensityGPerKwh)} g/kWh`);
    }
    io.out(lines.join('\n') + '\n');
    return 0;
  } catch (e) {
    if (e instanceof CarbonSourceError) {
      io.err(`chase-agent carbon: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    provider?.dispose?.();
  }
}

export const carbonCommand: CliCommand = {
  name: 'carbon',
  summary: 'print the current carbon intensity and the next hours of forecast from a provider (replay by default)',
  usage,
  run: (argv) =>
    runCarbon(argv, {
      out: (t) => process.stdout.write(t),
      err: (t) => process.stderr.write(t),
      env: process.env,
      now: Date.now,
    }),
};
