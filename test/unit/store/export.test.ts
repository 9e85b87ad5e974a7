import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HistoryReader, HistoryStore } from '../../../agent/store/history';
import { CODECARBON_COLUMNS, codeCarbonCsv, codeCarbonRow, codeCarbonTimestamp, exportRunJson, exportRunToFile, writeCodeCarbonFile } from '../../../agent/store/export';
import { csvField } from '../../../agent/csv';
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

test('CodeCarbon row: CodeCarbon units (kg, kWh, W, s), its gpu_model and local-time timestamp', () => {
  const row = codeCarbonRow(RUN, { host: HOST, gpuNames: new Map([['GPU-a', 'NVIDIA A40'], ['GPU-b', 'NVIDIA A40']]) });
  assert.equal(row.timestamp, codeCarbonTimestamp(T0 + 3_600_000));
  assert.equal(row.project_name, 'resnet');
  assert.equal(row.duration, 3600);
  assert.equal(row.emissions, 0.4, 'kg');
  assert.equal(row.emissions_rate, 0.4 / 3600, 'kg/s');
  assert.equal(row.energy_consumed, 2, 'kWh');
  assert.equal(row.gpu_energy, 2);
  assert.equal(row.gpu_power, 2000, 'W = J/s');
  assert.equal(row.gpu_count, 2);
  assert.equal(row.gpu_model, '2 x NVIDIA A40');
  assert.equal(row.gpu_utilization_percent, 0);
  assert.equal(row.region, 'GB');
  assert.equal(row.on_cloud, 'N');
  assert.equal(row.pue, 1);
  const mixed = codeCarbonRow({ ...RUN, gpuUuids: ['GPU-a', 'GPU-b', 'GPU-c'] }, { host: HOST, gpuNames: new Map([['GPU-a', 'NVIDIA A40'], ['GPU-b', 'NVIDIA H100'], ['GPU-c', 'NVIDIA A40']]) });
  assert.equal(mixed.gpu_model, '2 x NVIDIA A40, 1 x NVIDIA H100', 'a count per model, as CodeCarbon counts them');
  const csv = codeCarbonCsv([row]);
  const [header, line] = csv.trimEnd().split('\n');
  assert.equal(header, CODECARBON_COLUMNS.join(','));
  assert.ok(line.includes('"AMD EPYC, ""test"""'), 'RFC 4180 quoting');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField(Number.NaN), '');
});

test('CodeCarbon timestamp: local wall time without an offset, as datetime.now().strftime("%Y-%m-%dT%H:%M:%S")', () => {
  const saved = process.env.TZ;
  try {
    process.env.TZ = 'Asia/Kolkata'; // UTC+05:30, no daylight saving: Node re-reads TZ on assignment
    assert.equal(codeCarbonTimestamp(Date.UTC(2026, 2, 1, 13, 0, 7)), '2026-03-01T18:30:07');
    process.env.TZ = 'UTC';
    assert.equal(codeCarbonTimestamp(Date.UTC(2026, 2, 1, 13, 0, 7)), '2026-03-01T13:00:07');
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('emissions.csv: created with the header, appended to, an empty file counts as new', () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'emissions.csv');
    const row = codeCarbonRow(RUN, { host: HOST });
    assert.deepEqual(writeCodeCarbonFile(file, [row]), { written: 'created' });
    assert.deepEqual(writeCodeCarbonFile(file, [{ ...row, run_id: 'run-2' }]), { written: 'appended' });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.ok(lines[2].includes('run-2'));
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    assert.deepEqual(writeCodeCarbonFile(empty, [row]), { written: 'created' });
    assert.equal(readFileSync(empty, 'utf8').split('\n')[0], CODECARBON_COLUMNS.join(','));
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
    assert.match(show.stdout, /emissions 400 gCO₂ \(0\.40000 kg\)/);
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
    // a fresh home (no database yet): an empty list, exit 0 — in both output forms
    const fresh = join(dir, 'fresh-home');
    const freshJson = await run$(process.execPath, [MAIN, 'runs', 'list', '--json'], { env: { ...process.env, CHASE_STATE_DIR: fresh } });
    assert.equal(freshJson.stdout, '[]\n');
    const freshText = await cli(['list'], { CHASE_STATE_DIR: fresh });
    assert.equal(freshText.code, 0, freshText.stderr);
    assert.match(freshText.stdout, /^No runs recorded yet\. \(The history is created at .*fresh-home.*history\.sqlite by the first run\.\)\n$/);
    const freshShow = await cli(['show', 'run-1'], { CHASE_STATE_DIR: fresh });
    assert.equal(freshShow.code, 1, 'show names a run: none there is an error');
    assert.match(freshShow.stderr, /no run history at/);
    const noDb = await cli(['list', '--db', join(dir, 'missing.sqlite')]);
    assert.equal(noDb.code, 1);
    assert.match(noDb.stderr, /no run history at .*--db FILE/);
    assert.equal((await cli(['frobnicate'])).code, 2);
  } finally {
    cleanup();
  }
});
