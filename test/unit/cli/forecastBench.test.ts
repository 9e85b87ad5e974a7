import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forecastBenchCommand, runForecastBench } from '../../../agent/cli/forecastBench';
import { UsageError } from '../../../agent/cli/command';

function csv(days: number): string {
  const rows = ['timestamp,intensity'];
  const t0 = Date.UTC(2023, 0, 1);
  for (let i = 0; i < days * 24; i++) rows.push(`${new Date(t0 + i * 3_600_000).toISOString()},${(200 + 50 * Math.sin((2 * Math.PI * i) / 24) + (i % 7)).toFixed(2)}`);
  return rows.join('\n');
}

test('forecast-bench: every model × horizon, on the same points', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fbench-'));
  const file = join(dir, 'trace.csv');
  writeFileSync(file, csv(20));
  const r = runForecastBench(file, { horizonsH: [1, 24] });
  assert.equal(r.trace, 'trace.csv');
  assert.equal(r.points, 6 * 24);
  assert.deepEqual(
    r.results.map((x) => `${x.model}@${x.horizonH}`),
    ['persistence@1', 'persistence@24', 'seasonal-naive@1', 'seasonal-naive@24', 'chase-svr@1', 'chase-svr@24', 'default@1', 'default@24'],
  );
  assert.deepEqual(r.scoredPoints, [144, 121, 144, 121, 144, 121, 144, 121]);
  for (const x of r.results) assert.ok(Number.isFinite(x.mapePct) && Number.isFinite(x.maeGPerKwh));
});

test('forecast-bench: usage errors name the flag', async () => {
  await assert.rejects(forecastBenchCommand.run([]), (e: Error) => e instanceof UsageError && /--trace/.test(e.message));
  await assert.rejects(forecastBenchCommand.run(['--trace', 'x.csv', '--horizons', '1,-2']), UsageError);
  await assert.rejects(forecastBenchCommand.run(['--trace', 'x.csv', '--models', 'oracle']), /unknown model "oracle"/);
  const dir = mkdtempSync(join(tmpdir(), 'fbench-'));
  const file = join(dir, 't.csv');
  writeFileSync(file, csv(20));
  await assert.rejects(forecastBenchCommand.run(['--trace', file, '--horizons', '0.25']), /not a whole number/);
});
