import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HistoryReader } from '../../../agent/store/history';
import { CODECARBON_COLUMNS, codeCarbonCsv, codeCarbonRow, codeCarbonTimestamp, exportRunJson, exportRunToFile, writeCodeCarbonFile } from '../../../agent/store/export';
import { csvField } from '../../../agent/csv';
import type { RunRecord } from '../../../agent/store/types';
import { tempDir } from './helpers';
import { RUN, T0, seedHistory } from './fixtures/seed';

const HOST = { os: 'Linux-6.1', cpuCount: 16, cpuModel: 'AMD EPYC, "test"', ramTotalGb: 128 };

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
    seedHistory(path);
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
