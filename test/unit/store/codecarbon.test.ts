/**
 * The CodeCarbon export against CodeCarbon itself: its own `FileOutput` and `EmissionsData` from
 * mlco2/codecarbon v3.2.9 (fixtures/codecarbon-v3.2.9, see its README for provenance), run with
 * Debian's pandas, writing to the same emissions.csv as Chase — in both directions.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODECARBON_COLUMNS, codeCarbonRow, writeCodeCarbonFile } from '../../../agent/store/export';
import { splitCsvLine } from '../../../agent/csv';
import type { RunRecord } from '../../../agent/store/types';
import { requirePythonModules, runPython } from '../../systemPython';
import { tempDir } from './helpers';

const FIXTURE = join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'store', 'fixtures', 'codecarbon-v3.2.9');
const WRITER = join(FIXTURE, 'codecarbon_writes.py');
/** An emissions.csv that CodeCarbon 3.2.9 wrote (one row, run cc-run-1). */
const RECORDED = join(FIXTURE, 'emissions.csv');

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOST = { os: 'Linux-6.1', cpuCount: 16, cpuModel: 'AMD EPYC 7313', ramTotalGb: 128 };
const RUN: RunRecord = {
  id: 'chase-run-1', command: 'python train.py', startMs: T0, endMs: T0 + 3_600_000, gpuUuids: ['GPU-a'], policy: 'chase', budgetPct: 5,
  energyJ: 7_200_000, carbonG: 400, exitCode: 0, status: 'completed', zone: 'GB', source: 'replay',
};
const chaseRow = (id: string) => codeCarbonRow({ ...RUN, id }, { host: HOST, gpuNames: new Map([['GPU-a', 'NVIDIA A40']]) });

/** CodeCarbon 3.2.9 stopping a tracker with output_dir=dir, output_file=name. */
async function codeCarbonWrites(dir: string, name: string, runId: string): Promise<string> {
  const r = await runPython([WRITER, dir, name, runId]);
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

/** The file as pandas reads it: rows of {column: value}, so misaligned columns show. */
async function pandasRows(file: string): Promise<Record<string, string | number | null>[]> {
  const r = await runPython(['-c', 'import sys, pandas; print(pandas.read_csv(sys.argv[1]).to_json(orient="records"))', file]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string | number | null>[];
}

const header = (file: string) => readFileSync(file, 'utf8').split('\n', 1)[0];

/** Runs `fn` in a fresh folder (and its emissions.csv path), removed afterwards. */
async function inTempDir(fn: (dir: string, file: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir('chase-cc-');
  try {
    await fn(dir, join(dir, 'emissions.csv'));
  } finally {
    cleanup();
  }
}

describe('CodeCarbon 3.2.9 and Chase share an emissions.csv', () => {
  before(() => requirePythonModules(['pandas'], ['python3-pandas']));

  it('Chase writes exactly the header CodeCarbon 3.2.9 writes (38 columns, its order)', async () => {
    assert.deepEqual(splitCsvLine(header(RECORDED)), [...CODECARBON_COLUMNS]);
    assert.equal(CODECARBON_COLUMNS.length, 38);
    await inTempDir(async (dir, file) => {
      writeCodeCarbonFile(file, [chaseRow('chase-run-1')]);
      assert.equal(header(file), header(RECORDED));
    });
  });

  it('CodeCarbon appends to a file Chase created: no .bak, both rows read back aligned', async () => {
    await inTempDir(async (dir, file) => {
      assert.deepEqual(writeCodeCarbonFile(file, [chaseRow('chase-run-1')]), { written: 'created' });
      const log = await codeCarbonWrites(dir, 'emissions.csv', 'cc-run-2');
      assert.doesNotMatch(log, /CSV format has changed/);
      assert.deepEqual(readdirSync(dir), ['emissions.csv'], 'CodeCarbon moved nothing aside');
      const rows = await pandasRows(file);
      assert.deepEqual(rows.map((r) => r.run_id), ['chase-run-1', 'cc-run-2']);
      assert.equal(rows[0].gpu_energy, 2, 'kWh, in the gpu_energy column');
      assert.equal(rows[0].gpu_model, '1 x NVIDIA A40');
      assert.equal(rows[1].gpu_utilization_percent, 97.5);
    });
  });

  it('Chase appends to a file CodeCarbon created, and CodeCarbon keeps appending after it', async () => {
    await inTempDir(async (dir, file) => {
      copyFileSync(RECORDED, file);
      assert.deepEqual(writeCodeCarbonFile(file, [chaseRow('chase-run-2')]), { written: 'appended' });
      await codeCarbonWrites(dir, 'emissions.csv', 'cc-run-3');
      assert.deepEqual(readdirSync(dir), ['emissions.csv']);
      const rows = await pandasRows(file);
      assert.deepEqual(rows.map((r) => r.run_id), ['cc-run-1', 'chase-run-2', 'cc-run-3']);
      assert.equal(rows[1].emissions, 0.4, 'kg');
      assert.equal(rows[1].energy_consumed, 2, 'kWh');
      assert.equal(rows[1].tracking_mode, 'machine');
    });
  });

  it('other columns: Chase moves the file aside under the same names CodeCarbon uses, then starts a new one', async () => {
    await inTempDir(async (dir) => {
      // CodeCarbon 2.x's header (no water/utilisation columns): both tools must treat it alike
      const old = `${CODECARBON_COLUMNS.filter((c) => !/water|utilization|ram_used|wue/.test(c)).join(',')}\n`;
      const chaseDir = join(dir, 'chase');
      const ccDir = join(dir, 'codecarbon');
      for (const d of [chaseDir, ccDir]) {
        mkdirSync(d);
        writeFileSync(join(d, 'emissions.csv'), old);
        writeFileSync(join(d, 'emissions.csv.bak'), 'an older backup\n');
      }
      const w = writeCodeCarbonFile(join(chaseDir, 'emissions.csv'), [chaseRow('chase-run-3')]);
      assert.deepEqual(w, { written: 'created', backupFile: join(chaseDir, 'emissions.csv_0.bak') });
      const log = await codeCarbonWrites(ccDir, 'emissions.csv', 'cc-run-4');
      assert.match(log, /The CSV format has changed, backing up old emission file/);
      assert.deepEqual(readdirSync(chaseDir).sort(), readdirSync(ccDir).sort(), 'the same files after either tool');
      assert.equal(readFileSync(join(chaseDir, 'emissions.csv_0.bak'), 'utf8'), old, 'the old rows are kept');
      assert.equal(header(join(chaseDir, 'emissions.csv')), header(RECORDED));
      assert.ok(existsSync(join(chaseDir, 'emissions.csv.bak')));
    });
  });

  it('the same columns in another order: appended in the file\'s order (pandas reads every value in its column)', async () => {
    await inTempDir(async (dir, file) => {
      const reversed = [...CODECARBON_COLUMNS].reverse();
      const lines = readFileSync(RECORDED, 'utf8').trimEnd().split('\n');
      const cells = splitCsvLine(lines[1]);
      writeFileSync(file, `${reversed.join(',')}\n${[...cells].reverse().join(',')}\n`);
      assert.deepEqual(writeCodeCarbonFile(file, [chaseRow('chase-run-4')]), { written: 'appended' });
      const rows = await pandasRows(file);
      assert.deepEqual(rows.map((r) => r.run_id), ['cc-run-1', 'chase-run-4']);
      assert.equal(rows[1].gpu_energy, 2);
      assert.equal(rows[1].os, 'Linux-6.1');
    });
  });
});
