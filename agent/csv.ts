/**
 * CSV as RFC 4180 and Python's csv module have it: the agent's one reader (carbon traces, Zeus
 * power profiles, the header of an existing emissions.csv) and one writer (exports).
 *
 * Reading: records end at LF or CRLF outside quotes; a quoted field may hold commas, quotes ("" is
 * one ") and line breaks; a leading byte-order mark is dropped (spreadsheet exports start with one);
 * blank lines are skipped. Cells are returned as written (not trimmed): callers decide what
 * whitespace means for their columns.
 */

/** One record of a CSV text and the line it starts on (1-based), for error messages. */
export interface CsvRecord {
  cells: string[];
  lineNo: number;
}

/** Quotes a field only when needed (as Python's csv module writes); a non-finite number is empty. */
export function csvField(v: string | number): string {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const isBlank = (cells: readonly string[]): boolean => cells.length === 1 && cells[0].trim() === '';

/**
 * The non-blank records of `text`, the header included, in file order. A generator, so that a
 * large trace is never held as one array of cells besides its text.
 */
export function* csvRecords(text: string): Generator<CsvRecord> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (!body.includes('"')) {
    // the common case (traces, Zeus profiles): no quoting, so a line is a record
    let lineNo = 0;
    for (let at = 0; at <= body.length; ) {
      const nl = body.indexOf('\n', at);
      const end = nl < 0 ? body.length : nl;
      const line = body.slice(at, end > at && body[end - 1] === '\r' ? end - 1 : end);
      lineNo++;
      const cells = line.split(',');
      if (!isBlank(cells)) yield { cells, lineNo };
      at = end + 1;
    }
    return;
  }
  let cells: string[] = [];
  let cur = '';
  let quoted = false;
  let hasQuotes = false; // a record of one quoted field ("" or " ") is not a blank line
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\n') line++;
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = hasQuotes = true;
    else if (c === ',') {
      cells.push(cur);
      cur = '';
    } else if (c === '\n') {
      cells.push(cur);
      if (hasQuotes || !isBlank(cells)) yield { cells, lineNo: startLine };
      cells = [];
      cur = '';
      hasQuotes = false;
      startLine = line;
    } else if (c !== '\r' || body[i + 1] !== '\n') cur += c;
  }
  cells.push(cur);
  if (hasQuotes || !isBlank(cells)) yield { cells, lineNo: startLine };
}

/** The fields of one CSV line (e.g. an existing file's header), honouring quotes. */
export function splitCsvLine(line: string): string[] {
  const first = csvRecords(line).next();
  return first.done ? [''] : first.value.cells;
}
