/** agent/files.ts: what the agent reads and writes on a user's (or a client's) word. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendToRegularFile, FileRefusedError, readRegularFile, writeFileSafely, type ExistingFile } from '../../agent/files';
import { parseDecimal } from '../../agent/decimal';

const dir = () => mkdtempSync(join(tmpdir(), 'chase-files-'));
const refused = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: unknown) => e instanceof FileRefusedError && message.test(e.message));

describe('readRegularFile', () => {
  it('reads a regular file (also through a symlink), to its end', () => {
    const d = dir();
    writeFileSync(join(d, 'a.csv'), 'x,y\n1,2\n');
    symlinkSync(join(d, 'a.csv'), join(d, 'l.csv'));
    assert.equal(readRegularFile(join(d, 'l.csv'), 100), 'x,y\n1,2\n');
    assert.match(readRegularFile('/proc/self/status', 1 << 20), /VmRSS/, '/proc files report size 0 and are still read whole');
  });

  it('refuses devices, pipes and folders before opening them, and files over the cap', () => {
    const d = dir();
    execFileSync('mkfifo', [join(d, 'p')]);
    refused(() => readRegularFile('/dev/zero', 100), /\/dev\/zero is a device, not a regular file/);
    refused(() => readRegularFile(join(d, 'p'), 100), /is a pipe \(FIFO\)/); // would block in open() otherwise
    refused(() => readRegularFile(d, 100), /is a folder/);
    writeFileSync(join(d, 'big'), 'x'.repeat(101));
    refused(() => readRegularFile(join(d, 'big'), 100), /big is 101 bytes; at most 100 bytes is read/);
    assert.throws(() => readRegularFile(join(d, 'none'), 100), /ENOENT/);
  });
});

describe('writeFileSafely', () => {
  it('creates a file, and replaces one only with overwrite (keeping its mode)', () => {
    const d = dir();
    const f = join(d, 'out.json');
    writeFileSafely(f, 'one', { overwrite: false, overwriteHint: 'add --force' });
    assert.equal(readFileSync(f, 'utf8'), 'one');
    refused(() => writeFileSafely(f, 'two', { overwrite: false, overwriteHint: 'add --force' }), /out\.json already exists; add --force, or choose another file/);
    execFileSync('chmod', ['600', f]);
    writeFileSafely(f, 'two', { overwrite: true, overwriteHint: '' });
    assert.equal(readFileSync(f, 'utf8'), 'two');
    assert.equal(statSync(f).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(d), ['out.json'], 'no temporary file left behind');
  });

  it('never writes through a symlink (not even a dangling one), never to a device or folder', () => {
    const d = dir();
    writeFileSync(join(d, 'victim'), 'precious');
    symlinkSync(join(d, 'victim'), join(d, 'link'));
    symlinkSync(join(d, 'not-yet'), join(d, 'dangling'));
    refused(() => writeFileSafely(join(d, 'link'), 'evil', { overwrite: true, overwriteHint: '' }), /link is a symbolic link/);
    refused(() => writeFileSafely(join(d, 'dangling'), 'evil', { overwrite: true, overwriteHint: '' }), /dangling is a symbolic link/);
    refused(() => writeFileSafely('/dev/null', 'x', { overwrite: true, overwriteHint: '' }), /is a device/);
    refused(() => writeFileSafely(d, 'x', { overwrite: true, overwriteHint: '' }), /is a folder/);
    assert.equal(readFileSync(join(d, 'victim'), 'utf8'), 'precious');
    assert.throws(() => readFileSync(join(d, 'not-yet')), /ENOENT/, 'the dangling link was not followed to create its target');
  });
});

describe('appendToRegularFile', () => {
  it('appends what the caller decides after seeing the first line; refuses links and pipes', () => {
    const d = dir();
    const f = join(d, 'emissions.csv');
    const decide = (e: ExistingFile) => (e.firstLine === 'h' ? `${e.endsWithNewline ? '' : '\n'}row2\n` : undefined);
    assert.deepEqual(appendToRegularFile(f, decide), { appended: false });
    writeFileSync(f, 'h\nrow1');
    assert.equal(appendToRegularFile(f, decide).appended, true);
    assert.equal(readFileSync(f, 'utf8'), 'h\nrow1\nrow2\n');
    writeFileSync(join(d, 'other.csv'), 'x,y\n');
    assert.deepEqual(appendToRegularFile(join(d, 'other.csv'), decide), { appended: false, existing: { size: 4, firstLine: 'x,y', endsWithNewline: true } });
    assert.equal(readFileSync(join(d, 'other.csv'), 'utf8'), 'x,y\n', 'declined: untouched');
    symlinkSync(f, join(d, 'l.csv'));
    refused(() => appendToRegularFile(join(d, 'l.csv'), decide), /l\.csv is a symbolic link/);
    execFileSync('mkfifo', [join(d, 'p')]);
    refused(() => appendToRegularFile(join(d, 'p'), decide), /p is a pipe/); // O_NONBLOCK: no reader needed
    closeSync(openSync(join(d, 'empty.csv'), 'w'));
    assert.deepEqual(appendToRegularFile(join(d, 'empty.csv'), decide), { appended: false, existing: { size: 0, firstLine: '', endsWithNewline: false } });
  });
});

describe('parseDecimal', () => {
  it('reads decimals and nothing else', () => {
    assert.deepEqual(['2.5', '-1', '+3', '1e3', '.5', '5.', ' 7 '].map(parseDecimal), [2.5, -1, 3, 1000, 0.5, 5, 7]);
    for (const bad of ['', ' ', '0x10', '0b1', '0o7', 'Infinity', '-Infinity', 'NaN', '1_000', '1e400', '1,5', '--1', 'e3']) assert.equal(parseDecimal(bad), undefined, bad);
  });
});
