import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTrace, parseTime, parseTrace, TraceError } from '../../../agent/carbon/trace';
import { embeddedZones } from '../../../agent/carbon/replay';

const H = 3_600_000;
const T0 = Date.UTC(2023, 0, 1);
const EM_HEADER = 'Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (LCA),Low Carbon Percentage,Renewable Percentage,Data Source,Data Estimated,Data Estimation Method';

function traceError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TraceError, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

describe('trace parsing', () => {
  it('reads an Electricity Maps export: direct by default, LCA on request, zone id', () => {
    const text = [EM_HEADER, '2023-01-01 00:00:00,Germany,Germany,DE,140.5,185.8,83,78,entsoe.eu,false,', '2023-01-01 01:00:00,Germany,Germany,DE,141,186,83,78,entsoe.eu,false,'].join('\n');
    const direct = parseTrace(text, 'de.csv');
    assert.deepEqual([...direct.intensitiesGPerKwh], [140.5, 141]);
    assert.deepEqual([...direct.timestampsMs], [T0, T0 + H]);
    assert.equal(direct.stepMs, H);
    assert.equal(direct.zone, 'DE');
    assert.deepEqual([...parseTrace(text, 'de.csv', { emission: 'lifecycle' }).intensitiesGPerKwh], [185.8, 186]);
  });

  it('reads a generic ISO CSV (BOM, CRLF, quoted cells, unsorted rows, offsets)', () => {
    const text = '\uFEFFtimestamp,intensity\r\n"2023-01-01T02:00:00Z","300"\r\n2023-01-01T00:00:00Z,100\r\n2023-01-01 02:00:00+01:00,200\r\n';
    const t = parseTrace(text, 'g.csv');
    assert.deepEqual([...t.intensitiesGPerKwh], [100, 200, 300]);
    assert.equal(t.zone, undefined);
  });

  it('reads epoch seconds and epoch milliseconds', () => {
    const s = parseTrace(`time,value\n${T0 / 1000},1\n${T0 / 1000 + 1800},2\n`, 's.csv');
    assert.equal(s.stepMs, 1800_000);
    assert.equal(s.timestampsMs[0], T0);
    const ms = parseTrace(`timestamp,intensity\n${T0},1\n${T0 + H},2\n`, 'ms.csv');
    assert.equal(ms.timestampsMs[1], T0 + H);
  });

  it('reads named columns (case-insensitive fallback)', () => {
    const text = 'When,Zone,gCO2\n2023-01-01T00:00Z,X,5\n2023-01-01T01:00Z,X,6\n';
    assert.deepEqual([...parseTrace(text, 'n.csv', { timeColumn: 'When', valueColumn: 'gco2' }).intensitiesGPerKwh], [5, 6]);
    traceError(() => parseTrace(text, 'n.csv', { timeColumn: 'When', valueColumn: 'carbon' }), /n\.csv: line 1: no column named "carbon" \(columns: When, Zone, gCO2\)/);
  });

  it('fills gaps (missing rows and empty values) with the previous value and counts them', () => {
    const text = ['timestamp,intensity', '2023-01-01T00:00Z,10', '2023-01-01T01:00Z,', '2023-01-01T03:00Z,40', '2023-01-01T04:00Z,50'].join('\n');
    const t = parseTrace(text, 'gap.csv');
    assert.deepEqual([...t.intensitiesGPerKwh], [10, 10, 10, 40, 50]);
    assert.equal(t.filledPoints, 2);
    assert.equal(t.stepMs, H);
  });

  it('keeps a last row that sits a little off the grid', () => {
    const t = parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n2023-01-01T01:00Z,2\n2023-01-01T02:00Z,3\n2023-01-01T03:31Z,4\n', 'off.csv');
    assert.deepEqual([...t.intensitiesGPerKwh], [1, 2, 3, 3, 4]);
  });

  it('bad files are TraceErrors with the real line number', () => {
    traceError(() => parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n\n\nyesterday,2\n', 'bad.csv'), /bad\.csv: line 5: cannot read time "yesterday"/);
    traceError(() => parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n2023-01-01T01:00Z,-4\n', 'neg.csv'), /line 3: intensity "-4" is not a decimal number of gCO₂\/kWh from 0 to 3000/);
    traceError(() => parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n2023-01-01T01:00Z,abc\n', 'nan.csv'), /line 3: intensity "abc"/);
    traceError(() => parseTrace('a,b\n1,2\n3,4\n', 'cols.csv'), /unrecognised columns \[a, b\]/);
    traceError(() => parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n', 'short.csv'), /header and at least two rows/);
    traceError(() => parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n2023-01-01T00:00Z,2\n', 'same.csv'), /line 3: time repeats line 2/);
    traceError(() => parseTrace('timestamp,intensity\n2023-01-01T00:00Z,1\n2023-01-01T00:05Z,1\n2023-01-01T00:10Z,1\n2099-01-01T00:00Z,1\n', 'typo.csv'), /check the times for a typo/);
  });

  it('a missing file is a TraceError naming the file', () => {
    traceError(() => loadTrace('/nonexistent/trace.csv'), /trace\.csv: trace file not found/);
  });

  it('parseTime: ISO variants and epochs', () => {
    assert.equal(parseTime('2023-01-01'), T0);
    assert.equal(parseTime('2023-01-01 01:00:00+01'), T0);
    assert.equal(parseTime('2023-01-01T00:00:00.000Z'), T0);
    assert.ok(Number.isNaN(parseTime('nope')));
  });

  describe('files on disk', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'chase-trace-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('loads a file and names it', () => {
      const f = join(dir, 'mine.csv');
      writeFileSync(f, 'timestamp,intensity\n2023-01-01T00:00Z,1\n2023-01-01T01:00Z,2\n');
      assert.equal(loadTrace(f).name, 'mine.csv');
    });

    it('every embedded trace parses as a full hourly year', () => {
      const zones = embeddedZones();
      assert.ok(zones.length >= 5);
      for (const z of zones) {
        const t = loadTrace(z.file);
        assert.equal(t.stepMs, H, z.zone);
        assert.equal(t.timestampsMs.length, 8760, z.zone);
        assert.equal(new Date(t.timestampsMs[0]).getUTCFullYear(), z.year);
      }
    });
  });
});
