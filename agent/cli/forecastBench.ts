import { performance } from 'node:perf_hooks';
import type { CliCommand } from './command';
import { UsageError, numberArg } from './command';
import { loadTrace } from '../carbon/trace';
import { createForecaster, forecasterNames, walkForward, type ForecasterName } from '../forecast/index';
import { DAY_MS, HOUR_MS } from '../protocol/units';
import { DEFAULT_EMISSION_FACTOR_TYPE, type EmissionFactorType } from '../protocol/messages';


export interface ForecastBenchResult {
  model: string;
  horizonH: number;
  mapePct: number;
  maeGPerKwh: number;
}

export interface ForecastBenchReport {
  trace: string;
  /** Forecast origins walked through (each scored at every horizon that stays inside the trace). */
  points: number;
  results: ForecastBenchResult[];
}

interface BenchArgs {
  trace: string;
  horizonsH: number[];
  json: boolean;
  warmupDays: number;
  models: ForecasterName[];
  emission: EmissionFactorType;
}

function parseArgs(argv: string[]): BenchArgs {
  const out: BenchArgs = { trace: '', horizonsH: [1, 6, 24, 48], json: false, warmupDays: 14, models: [...forecasterNames], emission: DEFAULT_EMISSION_FACTOR_TYPE };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--trace') out.trace = value();
    else if (a === '--json') out.json = true;
    else if (a === '--warmup-days') out.warmupDays = numberArg('warmup-days', value());
    else if (a === '--horizons') {
      out.horizonsH = value()
        .split(',')
        .map((s) => numberArg('horizons', s.trim()));
      if (out.horizonsH.some((h) => !(h > 0))) throw new UsageError('--horizons must be positive numbers of hours, e.g. 1,6,24');
    } else if (a === '--models') {
      const names = value().split(',').map((s) => s.trim());
      for (const n of names) {
        if (!(forecasterNames as readonly string[]).includes(n)) throw new UsageError(`--models: unknown model "${n}" (known: ${forecasterNames.join(', ')})`);
      }
      out.models = names as ForecasterName[];
    } else if (a === '--emission') {
      const v = value();
      if (v !== 'direct' && v !== 'lifecycle') throw new UsageError('--emission must be direct or lifecycle');
      out.emission = v;
    } else throw new UsageError(`unknown option "${a}"`);
  }
  if (!out.trace) throw new UsageError('--trace FILE is required');
  if (!(out.warmupDays >= 0)) throw new UsageError('--warmup-days must be ≥ 0');
  return out;
}

/**
 * Walk-forward evaluation of every model on one trace file (the logic behind the command; also
 * used in-process by tests and the benchmark).
 */
export function runForecastBench(
  file: string,
  options: { horizonsH?: number[]; warmupDays?: number; models?: ForecasterName[]; emission?: EmissionFactorType } = {},
  onModelDone?: (model: string, ms: number) => void,
): ForecastBenchReport & { scoredPoints: number[] } {
  const trace = loadTrace(file, { emission: options.emission ?? DEFAULT_EMISSION_FACTOR_TYPE });
  const horizonsH = options.horizonsH ?? [1, 6, 24, 48];
  const horizonsSteps = horizonsH.map((h) => {
    const steps = (h * HOUR_MS) / trace.stepMs;
    if (!Number.isInteger(steps) || steps < 1) {
      throw new UsageError(`--horizons: ${h} h is not a whole number of the trace's ${trace.stepMs / 60_000}-minute periods`);
    }
    return steps;
  });
  const warmupSteps = Math.round(((options.warmupDays ?? 14) * DAY_MS) / trace.stepMs);
  const series = trace.intensitiesGPerKwh;
  if (warmupSteps >= series.length) {
    throw new UsageError(`the trace has ${series.length} periods, not more than the ${options.warmupDays ?? 14}-day warm-up: use a longer trace or --warmup-days`);
  }
  const results: ForecastBenchResult[] = [];
  const scoredPoints: number[] = [];
  let points = 0;
  for (const model of options.models ?? forecasterNames) {
    const t0 = performance.now();
    const r = walkForward(createForecaster(model), series, trace.timestampsMs[0], trace.stepMs, { warmupSteps, horizonsSteps });
    onModelDone?.(model, performance.now() - t0);
    points = r.origins;
    r.scores.forEach((s, k) => {
      results.push({ model, horizonH: horizonsH[k], mapePct: s.mapePct, maeGPerKwh: s.maeGPerKwh });
      scoredPoints.push(s.points);
    });
  }
  return { trace: trace.name, points, results, scoredPoints };
}

export const forecastBenchCommand: CliCommand = {
  name: 'forecast-bench',
  summary: 'score the forecasters on a carbon-intensity trace (walk-forward MAPE / MAE per horizon)',
  usage: `chase-agent forecast-bench --trace FILE [--horizons 1,6,24,48] [--json] [--warmup-days 14]
                            [--models persistence,seasonal-naive,chase-svr,default] [--emission direct|lifecycle]

Walks forward through the trace: at every period after the warm-up each model forecasts from the
values before it only, and each horizon (hours, converted with the trace's step) is scored against
the actual value. The same (origin, horizon) pairs are scored for every model.
FILE: an Electricity Maps export or a "timestamp,intensity" CSV (as for the replay provider).
--json prints one object {"trace", "points", "results": [{"model", "horizonH", "mapePct", "maeGPerKwh"}]}.`,
  async run(argv) {
    const args = parseArgs(argv);
    const timings: string[] = [];
    const { scoredPoints, ...report } = runForecastBench(args.trace, args, (model, ms) => timings.push(`${model} ${(ms / 1000).toFixed(1)} s`));
    if (args.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const lines = [`${report.trace}: ${report.points} forecast origins after a ${args.warmupDays}-day warm-up`, ''];
    lines.push(`${'model'.padEnd(16)}${'horizon'.padStart(8)}${'MAPE %'.padStart(9)}${'MAE g/kWh'.padStart(11)}${'points'.padStart(8)}`);
    report.results.forEach((r, k) => {
      lines.push(`${r.model.padEnd(16)}${`${r.horizonH} h`.padStart(8)}${r.mapePct.toFixed(2).padStart(9)}${r.maeGPerKwh.toFixed(1).padStart(11)}${String(scoredPoints[k]).padStart(8)}`);
    });
    lines.push('', `time: ${timings.join(', ')}`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
