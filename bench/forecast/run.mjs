#!/usr/bin/env node
// Forecast benchmark: walk-forward accuracy of every model on the five 2023 grids (through the
// `chase-agent forecast-bench` CLI) and in-process timings of the default model. Writes
// bench/forecast/results.md. Usage: node bench/forecast/run.mjs [--grids GB,DE-LU]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const shared = join(root, '../shared/data/carbon');
const traceDir = existsSync(shared) ? shared : join(root, 'agent/carbon/traces');
const gridsArg = process.argv.indexOf('--grids');
const GRIDS = gridsArg > 0 ? process.argv[gridsArg + 1].split(',') : ['GB', 'DE-LU', 'US-CAL-CISO', 'US-TEX-ERCO', 'US-MIDA-PJM'];
const MODELS = ['persistence', 'seasonal-naive', 'chase-svr', 'default'];
const SHOWN = [1, 6, 24, 48];
const ALL_H = Array.from({ length: 48 }, (_, i) => i + 1);

// 1. Build the CLI and run it on every grid. When the full agent bundle does not start (another
// part of the agent broken in the working tree), the same command is bundled on its own.
const tmp = mkdtempSync(join(tmpdir(), 'forecast-bench-'));
const build = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, stdio: 'inherit' });
let cli = ['dist/agent.js', 'forecast-bench'];
if (build.status !== 0 || spawnSync(process.execPath, [...cli, '--help'], { cwd: root }).status !== 0) {
  process.stderr.write('dist/agent.js does not run: benchmarking agent/cli/forecastBench.ts bundled on its own\n');
  const entry = join(tmp, 'entry.ts');
  writeFileSync(entry, `import { forecastBenchCommand } from ${JSON.stringify(join(root, 'agent/cli/forecastBench'))};\nforecastBenchCommand.run(process.argv.slice(2)).then((c) => { process.exitCode = c; });\n`);
  await esbuild.build({ entryPoints: [entry], outfile: join(tmp, 'fbench.cjs'), bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' });
  cli = [join(tmp, 'fbench.cjs')];
}
const accuracy = [];
for (const grid of GRIDS) {
  const file = join(traceDir, `${grid}_2023_hourly.csv`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...cli, '--trace', file, '--horizons', ALL_H.join(','), '--json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(1);
  }
  const report = JSON.parse(r.stdout);
  const seconds = (performance.now() - t0) / 1000;
  accuracy.push({ grid, report, seconds });
  process.stderr.write(`${grid}: ${report.points} origins, ${seconds.toFixed(1)} s\n`);
}
const mapeOf = (report, model, h) => report.results.find((x) => x.model === model && x.horizonH === h).mapePct;
const maeOf = (report, model, h) => report.results.find((x) => x.model === model && x.horizonH === h).maeGPerKwh;
const mean24 = (report, model) => ALL_H.slice(0, 24).reduce((s, h) => s + mapeOf(report, model, h), 0) / 24;

// 2. Timings, in-process (the forecaster module bundled on the fly).
const lib = join(tmp, 'lib.ts');
writeFileSync(lib, `export * from ${JSON.stringify(join(root, 'agent/forecast/index'))};\nexport { loadTrace } from ${JSON.stringify(join(root, 'agent/carbon/trace'))};\n`);
await esbuild.build({ entryPoints: [lib], outfile: join(tmp, 'lib.mjs'), bundle: true, platform: 'node', format: 'esm', logLevel: 'warning' });
const fx = await import(pathToFileURL(join(tmp, 'lib.mjs')).href);
const { loadTrace } = fx;
const trace = loadTrace(join(traceDir, 'DE-LU_2023_hourly.csv'));
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function timeCall(makeForecaster, days, horizonSteps, reps, fresh) {
  const n = days * 24;
  const input = { history: trace.intensitiesGPerKwh.subarray(0, n), stepMs: trace.stepMs, nextTimestampMs: trace.timestampsMs[n], horizonSteps };
  const times = [];
  let f = makeForecaster();
  f.forecast(input); // warm the JIT
  for (let i = 0; i < reps; i++) {
    if (fresh) f = makeForecaster();
    const t0 = performance.now();
    f.forecast(input);
    times.push(performance.now() - t0);
  }
  return median(times);
}
const make = (name) => () => fx.createForecaster(name);
const timing = {
  persistence48: timeCall(make('persistence'), 60, 48, 2001, false),
  seasonal48: timeCall(make('seasonal-naive'), 60, 48, 2001, false),
  svr48: timeCall(make('chase-svr'), 60, 48, 201, false),
  defaultCold48: timeCall(make('default'), 90, 48, 41, true), // includes the refit (full 56-day window)
  defaultWarm48: timeCall(make('default'), 60, 48, 2001, false), // fit cached
  refit14: timeCall(make('default'), 21, 48, 41, true), // two weeks of training origins after a week of lags
  refitHist14: timeCall(make('default'), 14, 48, 41, true), // only two weeks of history in all
};
const walk = (horizon) => {
  const f = fx.createForecaster('default');
  const t0 = performance.now();
  fx.walkForward(f, trace.intensitiesGPerKwh, trace.timestampsMs[0], trace.stepMs, { warmupSteps: 14 * 24, horizonsSteps: [horizon] });
  return { ms: performance.now() - t0, calls: trace.intensitiesGPerKwh.length - 14 * 24, fits: f.fitCount, horizon };
};
const walks = [walk(1), walk(48)];

// 3. Report.
const fmt = (x, d = 2) => x.toFixed(d);
const lines = [];
lines.push('# Forecast benchmark results', '');
lines.push(`Generated by \`node bench/forecast/run.mjs\` on ${new Date().toISOString().slice(0, 16)} UTC, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'} (load average ${fmt(loadavg()[0], 1)}: timings on a shared machine are noisy).`, '');
lines.push('Walk-forward over each 2023 hourly trace: 14-day warm-up, then a forecast from every hour (each sees only the past), scored at every horizon that stays inside the year. MAPE % (MAE g/kWh in brackets).', '');
lines.push(`| grid | model | ${SHOWN.map((h) => `${h} h`).join(' | ')} | mean 1–24 h |`);
lines.push(`|---|---|${SHOWN.map(() => '---:').join('|')}|---:|`);
for (const { grid, report } of accuracy) {
  for (const model of MODELS) {
    const cells = SHOWN.map((h) => `${fmt(mapeOf(report, model, h))} (${fmt(maeOf(report, model, h), 1)})`);
    lines.push(`| ${grid} | ${model} | ${cells.join(' | ')} | ${fmt(mean24(report, model))} |`);
  }
}
lines.push('', 'Targets: default 1-h MAPE ≤ 0.75 × persistence; 24-h MAPE ≤ 0.8 × seasonal-naive.', '');
lines.push('| grid | origins | default / persistence at 1 h | default / seasonal-naive at 24 h | at 48 h | mean over 1–24 h | bench run (s) |');
lines.push('|---|---:|---:|---:|---:|---:|---:|');
for (const { grid, report, seconds } of accuracy) {
  const r1 = mapeOf(report, 'default', 1) / mapeOf(report, 'persistence', 1);
  const r24 = mapeOf(report, 'default', 24) / mapeOf(report, 'seasonal-naive', 24);
  const r48 = mapeOf(report, 'default', 48) / mapeOf(report, 'seasonal-naive', 48);
  const rm = mean24(report, 'default') / mean24(report, 'seasonal-naive');
  lines.push(`| ${grid} | ${report.points} | ${fmt(r1)} ${r1 <= 0.75 ? '✓' : '✗'} | ${fmt(r24)} ${r24 <= 0.8 ? '✓' : '✗'} | ${fmt(r48)} | ${fmt(rm)} | ${fmt(seconds, 1)} |`);
}
lines.push('', '## Timing (DE-LU trace, median of repeated calls)', '');
lines.push('| what | ms | × persistence | × seasonal-naive | target |');
lines.push('|---|---:|---:|---:|---|');
const row = (what, ms, target) => lines.push(`| ${what} | ${fmt(ms, 3)} | ${fmt(ms / timing.persistence48, 0)} | ${fmt(ms / timing.seasonal48, 0)} | ${target} |`);
row('persistence, 48-h forecast', timing.persistence48, '');
row('seasonal-naive, 48-h forecast', timing.seasonal48, '');
row('chase-svr, 48-h forecast (includes its 24-sample SVR fit)', timing.svr48, '');
row('default, 48-h forecast, cold (includes the refit: 90 days of history, 56-day window)', timing.defaultCold48, '< 50 ms');
row('default, 48-h forecast, fit cached', timing.defaultWarm48, '≪ 1 ms');
row('default, refit on two weeks of hourly training data (21 days of history: a week of lags + 14 days) + 48-h forecast', timing.refit14, '< 200 ms');
row('default, refit with only 14 days of history + 48-h forecast', timing.refitHist14, '< 200 ms');
lines.push('', 'Simulator-style use: one default forecaster walked through the whole DE-LU year, one call per hour:', '');
for (const w of walks) lines.push(`- ${w.horizon}-step forecasts: ${w.calls} calls in ${fmt(w.ms / 1000, 2)} s with ${w.fits} refits (${fmt((w.ms * 1000) / w.calls, 0)} µs per call on average, refits included).`);
lines.push('');
writeFileSync(join(root, 'bench/forecast/results.md'), lines.join('\n'));
process.stdout.write(lines.join('\n') + '\n');
