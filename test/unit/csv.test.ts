/** The agent's one CSV reader and writer (agent/csv.ts): traces, Zeus profiles and exports use it. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { csvField, csvRecords, splitCsvLine } from '../../agent/csv';

const read = (text: string) => [...csvRecords(text)];

describe('csv', () => {
  it('reads records with their line numbers; skips blank lines; drops a BOM; takes LF and CRLF', () => {
    assert.deepEqual(read('\uFEFFa,b\r\n1,2\n\n  \n3,\n'), [
      { cells: ['a', 'b'], lineNo: 1 },
      { cells: ['1', '2'], lineNo: 2 },
      { cells: ['3', ''], lineNo: 5 },
    ]);
    assert.deepEqual(read(''), []);
  });

  it('quoted fields hold commas, quotes and line breaks; the next record keeps its own line number', () => {
    const text = 'name,note\n"a,b","say ""hi"""\n"two\r\nlines",x\nlast,"y"\n';
    assert.deepEqual(read(text), [
      { cells: ['name', 'note'], lineNo: 1 },
      { cells: ['a,b', 'say "hi"'], lineNo: 2 },
      { cells: ['two\r\nlines', 'x'], lineNo: 3 },
      { cells: ['last', 'y'], lineNo: 5 },
    ]);
    assert.deepEqual(splitCsvLine('"GPU, 0",2'), ['GPU, 0', '2']);
    assert.deepEqual(splitCsvLine(''), ['']);
  });

  it('reads back whatever the writer wrote (any text, any row)', () => {
    // text made of what CSV must escape, and numbers as the exports write them
    const text = fc.string({ unit: fc.constantFrom('a', 'é', ' ', ',', '"', '\n', '\r', '\r\n') });
    // a lone empty or blank unquoted field is a blank line, which readers skip
    const row = fc.array(fc.oneof(text, fc.double()), { minLength: 1, maxLength: 6 }).filter((r) => !(r.length === 1 && csvField(r[0]).trim() === ''));
    fc.assert(
      fc.property(fc.array(row, { maxLength: 6 }), (rows) => {
        const csv = rows.map((r) => r.map(csvField).join(',')).join('\n');
        const expected = rows.map((r) => r.map((v) => (typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v)));
        assert.deepEqual(read(csv).map((r) => r.cells), expected);
      }),
      { numRuns: 500, seed: 14 },
    );
  });
});
