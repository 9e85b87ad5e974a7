import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HistoryReader, HistoryStore } from '../../../agent/store/history';
import { CODECARBON_COLUMNS, codeCarbonCsv, codeCarbonRow, csvField, exportRunJson, exportRunToFile, writeCodeCarbonFile } from '../../../agent/store/export';
import type { RunRecord } from '../../../agent/store/types';
import { cliInProcess } from '../../harness/cliInProcess';
import { memoryLogger, tempDir } from './helpers';

const MAIN = join(__dirname, '..', '..', '..', 'agent', 'main.js');
const run$ = promisify(execFile);
const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOST = { os: 'Linux-6.1', cpuCount: 16, cpuModel: 'AMD EPYC, "test"', ramTotalGb: 128 };

const RUN: RunRecord = {
  id: 'run-42', command: 'python train.py --epochs 3', startMs: T0, endMs: T0 + 3_600_000, gpuUuids: ['GPU-a', 'GPU-b'], policy: 'chase', budgetPct: 5,
  energyJ: 7_200_000, carbonG: 400, baselineCarbonG: 460, slowdownPct: 2.1, exitCode: 0, status: 'completed', zone: 'GB', source: 'replay', meta: { project: 'resnet' },
};

function seed(path: string): void {
  const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log: memoryLogger() });
  store.registerGpu({ uuid: 'GPU-a', name: 'NVIDIA A40', index: 0 });
  store.registerGpu({ uuid: 'GPU-b', name: 'NVIDIA A40', index: 1 });
  store.startRun(RUN);
  store.startRun({ ...RUN, id: 'run-43', startMs: T0 + 7_200_000, endMs: undefined, status: 'running', baselineCarbonG: undefined });
  store.addSamples([0, 1].map((s) => ({ timestampMs: T0 + s * 1000, gpuUuid: 'GPU-a', powerMw: 200_000, powerLimitMw: 250_000 })));
  store.recordIntensity({ zone: 'GB', source: 'replay', timestampMs: T0, intensityGPerKwh: 200 });
  store.recordDecision({ runId: 'run-42', timestampMs: T0, powerLimitMw: 200_000, intensityGPerKwh: 200, forecastGPerKwh: 190, expectedSavingG: 3 });
  store.close();
}

test('CodeCarbon row: exact column list and order, CodeCarbon units (kg, kWh, W, s)', () => {
  assert.deepEqual(CODECARBON_COLUMNS.slice(0, 7), ['timestamp', 'project_name', 'run_id', 'experiment_id', 'duration', 'emissions', 'emissions_rate']);
  for (const c of ['cpu_power', 'gpu_power', 'ram_power', 'cpu_energy', 'gpu_energy', 'ram_energy', 'energy_consumed', 'country_name', 'country_iso_code', 'region', 'cloud_provider', 'cloud_region', 'os', 'python_version', 'codecarbon_version', 'cpu_count', 'cpu_model', 'gpu_count', 'gpu_model', 'longitude', 'latitude', 'ram_total_size', 'tracking_mode', 'on_cloud', 'pue']) {
    assert.ok((CODECARBON_COLUMNS as readonly string[]).includes(c), c);
  }
  const row = codeCarbonRow(RUN, { host: HOST, gpuNames: new Map([['GPU-a', 'NVIDIA A40'], ['GPU-b', 'NVIDIA A40']]) });
  assert.equal(row.timestamp, '2026-03-01T13:00:00');
  assert.equal(row.project_name, 'resnet');
  assert.equal(row.duration, 3600);
  assert.equal(row.emissions, 0.4, 'kg');
  assert.equal(row.emissions_rate, 0.4 / 3600, 'kg/s');
  assert.equal(row.energy_consumed, 2, 'kWh');
  assert.equal(row.gpu_energy, 2);
  assert.equal(row.gpu_power, 2000, 'W = J/s');
  assert.equal(row.gpu_count, 2);
  assert.equal(row.gpu_model, '2 x NVIDIA A40');
  assert.equal(row.region, 'GB');
  assert.equal(row.on_cloud, 'N');
  assert.equal(row.pue, 1);
  const csv = codeCarbonCsv([row]);
  const [header, line] = csv.trimEnd().split('\n');
  assert.equal(header, CODECARBON_COLUMNS.join(','));
  assert.ok(line.includes('"AMD EPYC, ""test"""'), 'RFC 4180 quoting');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField(Number.NaN), '');
});

test('emissions.csv: created with the header, appended like CodeCarbon does, a foreign CSV left alone', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'emissions.csv');
    const row = codeCarbonRow(RUN, { host: HOST });
    assert.equal(writeCodeCarbonFile(file, [row]), 'created');
    assert.equal(writeCodeCarbonFile(file, [{ ...row, run_id: 'run-2' }]), 'appended');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.ok(lines[2].includes('run-2'));
    const other = join(dir, 'other.csv');
    writeFileSync(other, 'a,b\n1,2\n');
    assert.throws(() => writeCodeCarbonFile(other, [row]), /other columns/);
    assert.equal(readFileSync(other, 'utf8'), 'a,b\n1,2\n');
  } finally {
    cleanup();
  }
});

test('JSON export and exportRunToFile (for the extension): totals, savings, decisions, samples', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    seed(path);
    const reader = HistoryReader.open({ path });
    try {
      const j = exportRunJson(reader, 'run-42');
      assert.equal(j.totals.energyKwh, 2);
      assert.equal(j.totals.emissionsKg, 0.4);
      assert.ok(Math.abs((j.totals.savedPct ?? 0) - (100 * 60) / 460) < 1e-9);
      assert.equal(j.decisions.length, 1);
      assert.equal(j.samples.length, 2);
      assert.equal(j.gpus.length, 2);
      assert.throws(() => exportRunJson(reader, 'nope'), /no run with id "nope"/);
    } finally {
      reader.close();
    }
    const out = join(dir, 'run.json');
    exportRunToFile({ dbPath: path, runId: 'run-42', format: 'json', outFile: out });
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as { run: RunRecord }).run.id, 'run-42');
  } finally {
    cleanup();
  }
});

test('CLI: chase-agent runs list | show | export, --db and CHASE_STATE_DIR, errors that say what to do', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'history.sqlite');
    seed(path);
    // once through the real entry point (registration in agent/cli/commands.ts)
    const real = await run$(process.execPath, [MAIN, 'runs', 'list', '--db', path]);
    assert.match(real.stdout, /^ID\s+STARTED \(UTC\)/);
    assert.match(real.stdout, /run-42\s+2026-03-01 12:00:00\s+1h00m\s+completed\s+2\.000\s+400\.0\s+60\.0 g \(13\.0 %\)/);

    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => cliInProcess(['runs', ...args], env);
    const viaEnv = await cli(['list', '--json'], { CHASE_STATE_DIR: dir });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.deepEqual((JSON.parse(viaEnv.stdout) as RunRecord[]).map((r) => r.id), ['run-43', 'run-42']);
    const show = await cli(['show', 'run-42', '--db', path]);
    assert.match(show.stdout, /emissions 400\.00 g CO2eq/);
    assert.match(show.stdout, /decisions 1/);
    const csv = await cli(['export', 'run-42', '--db', path]);
    assert.equal(csv.stdout.split('\n')[0], CODECARBON_COLUMNS.join(','));
    const out = join(dir, 'emissions.csv');
    assert.equal((await cli(['export', 'run-42', '--db', path, '--out', out])).code, 0);
    assert.equal((await cli(['export', 'run-43', '--db', path, '--out', out])).code, 0);
    assert.equal(readFileSync(out, 'utf8').trimEnd().split('\n').length, 3);
    const json = await cli(['export', 'run-42', '--format', 'json', '--db', path]);
    assert.equal((JSON.parse(json.stdout) as { run: RunRecord }).run.id, 'run-42');

    const missingRun = await cli(['show', 'nope', '--db', path]);
    assert.equal(missingRun.code, 1);
    assert.match(missingRun.stderr, /runs list shows the ids/);
    const badFormat = await cli(['export', 'run-42', '--format', 'xml', '--db', path]);
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /--format must be codecarbon or json/);
    const noDb = await cli(['list', '--db', join(dir, 'missing.sqlite')]);
    assert.equal(noDb.code, 1);
    assert.match(noDb.stderr, /no run history at .*--db FILE/);
    assert.equal((await cli(['frobnicate'])).code, 2);
  } finally {
    cleanup();
  }
});
