/**
 * Files a user (or a client) names: read only when they are regular files of a bounded size, and
 * written without following symbolic links or replacing a file nobody asked to replace.
 *
 * Why: `/dev/zero` as a trace is read until the process dies; a FIFO blocks `open` for good;
 * `--out /dev/zero` hangs the export; a symlink planted at an export path would make the agent
 * write wherever it points (as root, under a service).
 */
import { closeSync, constants, fstatSync, linkSync, lstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** A file the agent will not read or write as asked; the message says why and what to do. */
export class FileRefusedError extends Error {
  override readonly name = 'FileRefusedError';
}

const MIB = 1024 * 1024;
const sizeText = (bytes: number) => (bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MiB` : `${bytes} bytes`);

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/**
 * The whole text of the regular file `path` (a symlink to one is fine for reading), refused before
 * anything is read when it is a device, pipe or folder, or larger than `maxBytes`.
 */
export function readRegularFile(path: string, maxBytes: number): string {
  const st = statSync(path); // stat first: open() on a FIFO would block until a writer comes
  if (!st.isFile()) throw new FileRefusedError(`${path} is ${kindOf(st)}, not a regular file; give the path of a file`);
  if (st.size > maxBytes) throw new FileRefusedError(`${path} is ${sizeText(st.size)}; at most ${sizeText(maxBytes)} is read`);
  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() still returns at once
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) throw new FileRefusedError(`${path} is ${kindOf(fst)}, not a regular file; give the path of a file`);
    // to the end, not to the stat's size (/proc files say 0), but never past maxBytes: a file that
    // grew past the cap since the stat is refused, not read on and on
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(MIB, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new FileRefusedError(`${path} is larger than ${sizeText(maxBytes)}; at most that is read`);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * `readRegularFile` for an input file of some kind (`what`: "trace", "profile"), every failure as
 * one line made into the caller's error by `fail`: the refusal as is, "PATH: trace file not found",
 * "PATH: cannot read trace file (EACCES)".
 */
export function readInputFile(path: string, maxBytes: number, what: string, fail: (message: string) => Error): string {
  try {
    return readRegularFile(path, maxBytes);
  } catch (e) {
    if (e instanceof FileRefusedError) throw fail(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(`${path}: ${code === 'ENOENT' ? `${what} file not found` : `cannot read ${what} file (${code ?? String(e)})`}`);
  }
}

export interface WriteOptions {
  /** Replace an existing regular file (never a link, device or folder). */
  overwrite: boolean;
  /** What the user does to replace an existing file, e.g. "add --force". */
  overwriteHint: string;
}

/** lstat, or undefined when nothing is at `path`. */
function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Writes `text` as the file `path`: into a new temporary file beside it (O_EXCL, so nothing is
 * followed), then moved into place — rename() replaces a link itself instead of writing through it;
 * without `overwrite`, link() puts it there only if nothing is there yet.
 */
export function writeFileSafely(path: string, text: string, o: WriteOptions): void {
  const existing = lstatOrUndefined(path);
  if (existing?.isSymbolicLink()) throw new FileRefusedError(`${path} is a symbolic link; Chase does not write through links: give the real file's path`);
  if (existing && !existing.isFile()) throw new FileRefusedError(`${path} is ${kindOf(existing)}; give the path of a regular file`);
  if (existing && !o.overwrite) throw new FileRefusedError(`${path} already exists; ${o.overwriteHint}, or choose another file`);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, existing ? existing.mode & 0o777 : 0o644);
  try {
    writeAll(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    if (existing) renameSync(tmp, path);
    else linkSync(tmp, path); // EEXIST when a file appeared since the lstat: never replaced unasked
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileRefusedError(`${path} already exists; ${o.overwriteHint}, or choose another file`);
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* renamed into place */
    }
  }
}

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
}

/** Longest first line read from a file before appending to it (a CSV header). */
const MAX_HEADER_BYTES = 64 * 1024;

/** What is known of a file before appending to it. */
export interface ExistingFile {
  size: number;
  /** Its first line (at most 64 KiB of it), without the line break. */
  firstLine: string;
  endsWithNewline: boolean;
}

/**
 * Appends `decide(existing)` to the regular file at `path` — never through a link (O_NOFOLLOW),
 * never to a device or pipe. `existing` is undefined when nothing is at `path`; `appended` is false
 * then, and when `decide` returns undefined (the caller does something else, e.g. creates the file
 * with writeFileSafely).
 */
export function appendToRegularFile(path: string, decide: (existing: ExistingFile) => string | undefined): { appended: boolean; existing?: ExistingFile } {
  if (!lstatOrUndefined(path)) return { appended: false };
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new FileRefusedError(`${path} is a symbolic link; Chase does not write through links: give the real file's path`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileRefusedError(`${path} is ${kindOf(st)}; give the path of a regular file`);
    const head = Buffer.alloc(Math.min(st.size, MAX_HEADER_BYTES));
    const got = head.length === 0 ? 0 : readSync(fd, head, 0, head.length, 0);
    const last = Buffer.alloc(1);
    const endsWithNewline = st.size > 0 && readSync(fd, last, 0, 1, st.size - 1) === 1 && last[0] === 0x0a;
    const existing: ExistingFile = { size: st.size, firstLine: head.subarray(0, got).toString('utf8').split(/\r?\n/, 1)[0], endsWithNewline };
    const text = decide(existing);
    if (text === undefined) return { appended: false, existing };
    writeAll(fd, text);
    return { appended: true, existing };
  } finally {
    closeSync(fd);
  }
}
