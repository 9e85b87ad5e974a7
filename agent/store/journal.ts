/**
 * Crash recovery that node-sqlite3-wasm's VFS cannot do by itself.
 *
 * Its VFS locks a database with one directory, `<db>.lock` (mkdir = lock, rmdir = unlock), for
 * every lock level, and its xCheckReservedLock answers "locked" whenever that directory exists —
 * including when the asking connection created it. SQLite therefore never sees a rollback journal
 * as *hot*: after a crash mid-commit the next connection reads a half-written transaction, and the
 * lock directory of the dead process stays behind, so every later connection gets SQLITE_BUSY.
 * (Verified against 0.8.60: see test/unit/store/recovery.test.ts.)
 *
 * This module does the two missing steps, in plain Node, before SQLite touches the file:
 *  - {@link acquireRawLock} takes the same `<db>.lock` directory SQLite uses (so no SQLite
 *    connection anywhere is inside a transaction while we hold it), breaking a lock whose
 *    directory is older than `staleLockMs` (its holder died: nothing in Chase holds it that long);
 *  - {@link rollbackHotJournal} plays back `<db>-journal` exactly as SQLite's pager would
 *    (https://www.sqlite.org/fileformat.html#the_rollback_journal): restore every page record with
 *    a valid checksum, truncate to the original size, fsync, delete the journal.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log';

const MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` without spinning (SQLite calls are synchronous anyway). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, Math.max(1, Math.round(ms)));
}

export const lockDirOf = (dbPath: string): string => `${dbPath}.lock`;
export const journalOf = (dbPath: string): string => `${dbPath}-journal`;

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** SQLite's journal checksum: the nonce plus every 200th byte of the page, from the end (pager_cksum). */
export function journalChecksum(page: Uint8Array, nonce: number): number {
  let sum = nonce >>> 0;
  for (let i = page.length - 200; i > 0; i -= 200) sum = (sum + page[i]) >>> 0;
  return sum;
}

export interface PlaybackResult {
  /** Page records written back. */
  pages: number;
  /** Size in pages the database had before the interrupted transaction. */
  originalPages: number;
}

/**
 * Rolls back `<db>-journal` into `<db>` and deletes the journal. Returns null when there was no
 * journal or it was not hot (empty, zeroed header, never synced). Call only while holding the lock.
 */
export function rollbackHotJournal(dbPath: string): PlaybackResult | null {
  const jPath = journalOf(dbPath);
  if (!existsSync(jPath)) return null;
  const j = readFileSync(jPath);
  let result: PlaybackResult | null = null;
  if (j.length >= 28 && j.subarray(0, 8).equals(MAGIC) && existsSync(dbPath)) {
    const fd = openSync(dbPath, 'r+');
    try {
      let off = 0;
      let first = true;
      let pages = 0;
      let originalPages = 0;
      let pageSize = 0;
      outer: while (off + 28 <= j.length && j.subarray(off, off + 8).equals(MAGIC)) {
        let nRec = j.readUInt32BE(off + 8);
        const nonce = j.readUInt32BE(off + 12);
        const mxPg = j.readUInt32BE(off + 16);
        const sector = j.readUInt32BE(off + 20);
        pageSize = j.readUInt32BE(off + 24);
        if (!isPowerOfTwo(sector) || sector < 32 || sector > 65536 || !isPowerOfTwo(pageSize) || pageSize < 512 || pageSize > 65536) break;
        off += sector;
        if (first) {
          originalPages = mxPg;
          first = false;
        }
        const rec = pageSize + 8;
        if (nRec === 0xffffffff) nRec = Math.floor((j.length - off) / rec);
        for (let i = 0; i < nRec; i++) {
          if (off + rec > j.length) break outer;
          const pgno = j.readUInt32BE(off);
          const data = j.subarray(off + 4, off + 4 + pageSize);
          if (pgno === 0 || journalChecksum(data, nonce) !== j.readUInt32BE(off + 4 + pageSize)) break outer;
          writeSync(fd, data, 0, pageSize, (pgno - 1) * pageSize);
          pages++;
          off += rec;
        }
        off = Math.ceil(off / sector) * sector;
      }
      if (!first) {
        const want = originalPages * pageSize;
        if (fstatSync(fd).size > want) ftruncateSync(fd, want);
        fsyncSync(fd);
        result = { pages, originalPages };
      }
    } finally {
      closeSync(fd);
    }
  }
  unlinkSync(jPath);
  syncDir(dirname(dbPath));
  return result;
}

function syncDir(dir: string): void {
  let fd = -1;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Directory fsync is not supported everywhere (Windows); the rename/unlink is still done.
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

export interface RawLockOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** A lock directory older than this belongs to a dead process and is broken. */
  staleLockMs: number;
  log?: Logger;
  now?: () => number;
}

/**
 * Takes `<db>.lock` the way the VFS does (mkdir). Returns false on timeout. A lock older than
 * `staleLockMs` is broken by {@link breakStaleLock}.
 */
export function acquireRawLock(dbPath: string, o: RawLockOptions): boolean {
  const now = o.now ?? Date.now;
  const lock = lockDirOf(dbPath);
  const deadline = now() + o.timeoutMs;
  let wait = 2;
  for (;;) {
    try {
      mkdirSync(lock);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const age = ageMs(lock, now);
    if (age === undefined) continue; // released meanwhile
    if (age > o.staleLockMs) {
      breakStaleLock(dbPath, o);
      continue;
    }
    if (now() >= deadline) return false;
    sleepSync(wait);
    wait = Math.min(wait * 2, 50);
  }
}

function ageMs(path: string, now: () => number): number | undefined {
  try {
    return now() - statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Breaks a stale `<db>.lock`. The stale directory itself keeps every SQLite connection out while
 * the journal is rolled back; only then is it removed. Breakers serialize on `<db>.recover`.
 */
export function breakStaleLock(dbPath: string, o: RawLockOptions): void {
  const now = o.now ?? Date.now;
  const lock = lockDirOf(dbPath);
  const mutex = `${dbPath}.recover`;
  try {
    mkdirSync(mutex);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const age = ageMs(mutex, now);
    if (age !== undefined && age > o.staleLockMs) {
      const aside = `${mutex}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        renameSync(mutex, aside);
        rmdirSync(aside);
      } catch {
        // another breaker got there first
      }
    } else {
      sleepSync(5);
    }
    return;
  }
  try {
    const age = ageMs(lock, now);
    if (age === undefined || age <= o.staleLockMs) return; // released or re-taken meanwhile
    const rolledBack = rollbackHotJournal(dbPath);
    rmdirSync(lock);
    o.log?.warn(
      `removed the stale database lock ${lock} (held ${Math.round(age / 1000)} s by a process that is gone)` +
        (rolledBack ? `; rolled back its interrupted transaction (${rolledBack.pages} page(s) from ${journalOf(dbPath)})` : ''),
    );
  } finally {
    try {
      rmdirSync(mutex);
    } catch {
      // gone already
    }
  }
}

export function releaseRawLock(dbPath: string): void {
  try {
    rmdirSync(lockDirOf(dbPath));
  } catch {
    // already gone
  }
}

export interface RecoveryOutcome {
  rolledBack: PlaybackResult | null;
}

/**
 * Makes the file safe for node-sqlite3-wasm to open: takes the lock (breaking a stale one), rolls
 * back a hot journal, releases the lock. Throws when the lock stays busy past `timeoutMs`.
 */
export function recoverDatabase(dbPath: string, o: RawLockOptions): RecoveryOutcome {
  if (!acquireRawLock(dbPath, o)) {
    throw new Error(`the history database ${dbPath} stayed locked for ${Math.round(o.timeoutMs / 1000)} s (lock ${lockDirOf(dbPath)}); is another process writing it? Try again`);
  }
  try {
    const rolledBack = rollbackHotJournal(dbPath);
    if (rolledBack) o.log?.warn(`rolled back an interrupted transaction in ${dbPath} (${rolledBack.pages} page(s) restored from ${journalOf(dbPath)})`);
    return { rolledBack };
  } finally {
    releaseRawLock(dbPath);
  }
}
