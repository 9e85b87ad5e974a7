/**
 * The CodeCarbon export against CodeCarbon itself: what mlco2/codecarbon v3.2.9's own `FileOutput`
 * wrote, recorded in fixtures/codecarbon-v3.2.9 (its README says how each recording was made). Each
 * recording whose input Chase wrote starts from Chase's bytes, and every test first checks that
 * Chase still writes exactly those bytes, so a recording cannot silently go stale.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODECARBON_COLUMNS, codeCarbonRow, writeCodeCarbonFile } from '../../../agent/store/export';
import { csvRecords, splitCsvLine } from '../../../agent/csv';
import type { RunRecord } from '../../../agent/store/types';
import { tempDir } from './helpers';

// CodeCarbon's timestamp is local time; the recordings were made in UTC (each test file runs in
// its own process, so this reaches only the tests below)
process.env.TZ = 'UTC';

const FIXTURE = join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'store', 'fixtures', 'codecarbon-v3.2.9');
/** An emissions.csv that CodeCarbon 3.2.9 wrote into an empty folder (one row, run cc-run-1). */
const RECORDED = join(FIXTURE, 'emissions.csv');
/** One recorded CodeCarbon run: the folder before it, the folder after it, and what it logged. */
const recording = (name: string) => ({
  before: join(FIXTURE, name, 'before'),
  after: join(FIXTURE, name, 'after'),
  log: readFileSync(join(FIXTURE, name, 'codecarbon.log'), 'utf8'),
});

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const HOST = { os: 'Linux-6.1', cpuCount: 16, cpuModel: 'AMD EPYC 7313', ramTotalGb: 128 };
const RUN: RunRecord = {
  id: 'chase-run-1', command: 'python train.py', startMs: T0, endMs: T0 + 3_600_000, gpuUuids: ['GPU-a'], policy: 'chase', budgetPct: 5,
  energyJ: 7_200_000, carbonG: 400, exitCode: 0, status: 'completed', zone: 'GB', source: 'replay',
};
const chaseRow = (id: string) => codeCarbonRow({ ...RUN, id }, { host: HOST, gpuNames: new Map([['GPU-a', 'NVIDIA A40']]) });

const read = (file: string) => readFileSync(file, 'utf8');
const header = (file: string) => read(file).split('\n', 1)[0];

/** The file's rows as {column: cell}; every row must have exactly the header's cells, so a shifted column shows. */
function csvRows(file: string): Record<string, string>[] {
  const [head, ...lines] = [...csvRecords(read(file))].map((r) => r.cells);
  return lines.map((cells, i) => {
    assert.equal(cells.length, head.length, `${file} row ${i + 1}: ${cells.length} cells under ${head.length} columns`);
    return Object.fromEntries(head.map((c, j) => [c, cells[j]]));
  });
}

/** Runs `fn` in a fresh folder (and its emissions.csv path), removed afterwards. */
function inTempDir(fn: (dir: string, file: string) => void): void {
  const { dir, cleanup } = tempDir('chase-cc-');
  try {
    fn(dir, join(dir, 'emissions.csv'));
  } finally {
    cleanup();
  }
}

/** CodeCarbon's recorded run appended to its input: the input's bytes untouched, nothing moved aside. */
function assertCodeCarbonAppended(rec: ReturnType<typeof recording>): void {
  assert.doesNotMatch(rec.log, /CSV format has changed/);
  assert.deepEqual(readdirSync(rec.after), ['emissions.csv'], 'CodeCarbon moved nothing aside');
  const before = read(join(rec.before, 'emissions.csv'));
  const after = read(join(rec.after, 'emissions.csv'));
  assert.ok(after.startsWith(before) && after.length > before.length, 'CodeCarbon appended after the existing bytes');
}

describe('CodeCarbon 3.2.9 and Chase share an emissions.csv', () => {
  it('Chase writes exactly the header CodeCarbon 3.2.9 writes (38 columns, its order)', () => {
    assert.deepEqual(splitCsvLine(header(RECORDED)), [...CODECARBON_COLUMNS]);
    assert.equal(CODECARBON_COLUMNS.length, 38);
    inTempDir((_dir, file) => {
      writeCodeCarbonFile(file, [chaseRow('chase-run-1')]);
      assert.equal(header(file), header(RECORDED));
    });
  });

  it('CodeCarbon appends to a file Chase created: no .bak, both rows read back aligned', () => {
    const rec = recording('append-to-chase');
    inTempDir((_dir, file) => {
      assert.deepEqual(writeCodeCarbonFile(file, [chaseRow('chase-run-1')]), { written: 'created' });
      assert.equal(read(file), read(join(rec.before, 'emissions.csv')), 'Chase still writes the file CodeCarbon was given');
    });
    assertCodeCarbonAppended(rec);
    const rows = csvRows(join(rec.after, 'emissions.csv'));
    assert.deepEqual(rows.map((r) => r.run_id), ['chase-run-1', 'cc-run-2']);
    assert.equal(rows[0].gpu_energy, '2', 'kWh, in the gpu_energy column');
    assert.equal(rows[0].gpu_model, '1 x NVIDIA A40');
    assert.equal(rows[1].gpu_utilization_percent, '97.5');
  });

  it('Chase appends to a file CodeCarbon created, and CodeCarbon keeps appending after it', () => {
    const rec = recording('chase-then-codecarbon');
    inTempDir((dir, file) => {
      copyFileSync(RECORDED, file);
      assert.deepEqual(writeCodeCarbonFile(file, [chaseRow('chase-run-2')]), { written: 'appended' });
      assert.deepEqual(readdirSync(dir), ['emissions.csv']);
      assert.equal(read(file), read(join(rec.before, 'emissions.csv')), 'Chase still writes the file CodeCarbon was given');
      const chase = csvRows(file)[1];
      assert.equal(chase.run_id, 'chase-run-2');
      assert.equal(chase.emissions, '0.4', 'kg');
      assert.equal(chase.energy_consumed, '2', 'kWh');
      assert.equal(chase.tracking_mode, 'machine');
    });
    assertCodeCarbonAppended(rec);
    assert.deepEqual(csvRows(join(rec.after, 'emissions.csv')).map((r) => r.run_id), ['cc-run-1', 'chase-run-2', 'cc-run-3']);
  });

  it('other columns: Chase moves the file aside under the same names CodeCarbon uses, then starts a new one', () => {
    // CodeCarbon 2.x's header (no water/utilisation columns) over one row, and an older emissions.csv.bak
    const rec = recording('other-columns');
    assert.match(rec.log, /The CSV format has changed, backing up old emission file/);
    inTempDir((dir, file) => {
      for (const name of readdirSync(rec.before)) copyFileSync(join(rec.before, name), join(dir, name));
      const w = writeCodeCarbonFile(file, [chaseRow('chase-run-3')]);
      assert.deepEqual(w, { written: 'created', backupFile: join(dir, 'emissions.csv_0.bak') });
      const after = readdirSync(rec.after).sort();
      assert.deepEqual(readdirSync(dir).sort(), after, 'the same files after either tool');
      for (const name of after.filter((n) => n.endsWith('.bak'))) {
        assert.equal(read(join(dir, name)), read(join(rec.after, name)), `${name}: what CodeCarbon keeps there`);
      }
      assert.equal(read(join(dir, 'emissions.csv_0.bak')), read(join(rec.before, 'emissions.csv')), 'the old rows are kept');
      assert.equal(header(file), header(join(rec.after, 'emissions.csv')));
      assert.deepEqual(csvRows(file).map((r) => r.run_id), ['chase-run-3']);
    });
  });

  it('the same columns in another order: appended in the file\'s order (every value in its column)', () => {
    inTempDir((_dir, file) => {
      const reversed = [...CODECARBON_COLUMNS].reverse();
      const cells = splitCsvLine(read(RECORDED).trimEnd().split('\n')[1]);
      writeFileSync(file, `${reversed.join(',')}\n${[...cells].reverse().join(',')}\n`);
      assert.deepEqual(writeCodeCarbonFile(file, [chaseRow('chase-run-4')]), { written: 'appended' });
      const rows = csvRows(file);
      assert.deepEqual(rows.map((r) => r.run_id), ['cc-run-1', 'chase-run-4']);
      assert.equal(rows[1].gpu_energy, '2');
      assert.equal(rows[1].os, 'Linux-6.1');
    });
  });
});
