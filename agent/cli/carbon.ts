/**
 * `chase-agent carbon`: reads the configured carbon source once and prints the current intensity
 * and the next hours of the source's own forecast. Handy headless and for checking API keys.
 * Credentials come from the environment (CHASE_ELECTRICITYMAPS_TOKEN, CHASE_WATTTIME_USERNAME,
 * CHASE_WATTTIME_PASSWORD) and are never printed.
 */
import { CARBON_SOURCE_KINDS, type CarbonSettings, type CarbonSourceKind, type ForecastPoint } from '../protocol/messages';
import { createProvider } from '../carbon/index';
import type { ApiProviderDeps } from '../carbon/apiProvider';
import { CarbonSourceError, type CarbonProvider, type CarbonReading } from '../carbon/provider';
import { RunCarbon } from '../runs/runCarbon';
import { secretsFromEnv } from '../carbon/secrets';
import { numberArg, UsageError, type CliCommand } from './command';
import { describeError } from '../log';
import { formatUtc } from '../carbon/http';
import { HOUR_MS } from '../protocol/units';

const PROVIDERS: readonly CarbonSourceKind[] = CARBON_SOURCE_KINDS;

const usage = `chase-agent carbon [--provider P] [--zone Z] [--hours N] [--json] [options]

Prints the current carbon intensity from a provider and the next hours of its own forecast.

  --provider P     replay (default), static, electricitymaps, watttime, uk-neso
  --zone Z         grid zone / region (default GB; WattTime: e.g. CAISO_NORTH)
  --hours N        forecast hours to print (default 6)
  --json           machine-readable output
  --lat X --lon Y  location instead of a zone (Electricity Maps, WattTime)
  --region-id N    UK NESO region id 1-17;  --postcode PC  UK NESO outward postcode
  --emission F     Electricity Maps: direct (default, as the extension and the traces) or lifecycle
  --trace FILE     replay this CSV;  --speed S  replay speed (default 1)
  --static G       intensity for --provider static, g/kWh
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

export function parseCarbonArgs(argv: string[]): Args {
  const flags = new Map<string, string>();
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') {
      json = true;
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  const known = ['provider', 'zone', 'hours', 'lat', 'lon', 'region-id', 'postcode', 'emission', 'trace', 'speed', 'static', 'base-url', 'timeout-ms'];
  for (const k of flags.keys()) if (!known.includes(k)) throw new UsageError(`unknown option --${k}`);
  const provider = (flags.get('provider') ?? 'replay') as CarbonSourceKind;
  if (!PROVIDERS.includes(provider)) throw new UsageError(`--provider must be one of ${PROVIDERS.join(', ')}`);
  const emission = flags.get('emission');
  if (emission !== undefined && emission !== 'direct' && emission !== 'lifecycle') throw new UsageError('--emission must be direct or lifecycle');
  const opt = (flag: string) => (flags.has(flag) ? numberArg(flag, flags.get(flag)) : undefined);
  const lat = opt('lat');
  const lon = opt('lon');
  if ((lat === undefined) !== (lon === undefined)) throw new UsageError('--lat and --lon go together');
  const settings: CarbonSettings = {
    provider,
    zone: flags.get('zone') ?? (provider === 'watttime' ? 'CAISO_NORTH' : 'GB'),
    replaySpeed: numberArg('speed', flags.get('speed'), 1),
    ...(flags.has('trace') ? { traceFile: flags.get('trace') } : {}),
    ...(flags.has('static') ? { staticIntensityGPerKwh: numberArg('static', flags.get('static')) } : {}),
    ...(lat !== undefined && lon !== undefined ? { latitude: lat, longitude: lon } : {}),
    ...(emission ? { emissionFactorType: emission } : {}),
    ...(flags.has('base-url') ? { baseUrl: flags.get('base-url') } : {}),
    ...(flags.has('region-id') ? { ukRegionId: numberArg('region-id', flags.get('region-id')) } : {}),
    ...(flags.has('postcode') ? { ukPostcode: flags.get('postcode') } : {}),
  };
  const hours = numberArg('hours', flags.get('hours'), 6);
  if (hours < 0 || hours > 72) throw new UsageError('--hours must be between 0 and 72');
  return { settings, hours, json, ...(flags.has('timeout-ms') ? { timeoutMs: numberArg('timeout-ms', flags.get('timeout-ms')) } : {}) };
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
        forecastError = describeError(e);
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
