/**
 * Crash recovery that node-sqlite3-wasm's VFS cannot do by itself.
 *
 * Its VFS locks a database with one directory, `<db>.lock` (mkdir = lock, rmdir = unlock), for
 * every lock level, and its xCheckReservedLock answers "locked" whenever that directory exists —
 * including when the asking connection created it. SQLite therefore never sees a rollback journal
 * as *hot*: after a crash mid-commit the next connection reads a half-written transaction, and the
 * lock directory of the dead process stays behind, so every later connection gets SQLITE_BUSY.
 * (Verified against 0.8.60 by test/unit/store/history.test.ts, "node-sqlite3-wasm leaves hot
 * journals alone", which fails once the VFS rolls back by itself.)
 *
 * This module does the two missing steps, in plain Node, before SQLite touches the file:
 *  - {@link acquireRawLock} takes the same `<db>.lock` directory SQLite uses (so no SQLite
 *    connection anywhere is inside a transaction while we hold it), breaking a lock whose
 *    directory is older than `staleLockMs` (its holder died: nothing in Chase holds it that long);
 *  - {@link rollbackHotJournal} plays back `<db>-journal` exactly as SQLite's pager would
 *    (https://www.sqlite.org/fileformat.html#the_rollback_journal): restore every page record with
 *    a valid checksum, truncate to the original size, fsync, delete the journal.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log';
import { processAlive, sleepSync } from '../process';

const MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);

/**
 * Every Chase process that opens a history database registers in `<db>.pids/<pid>` (content: its
 * role) before it can take the lock, and unregisters on close. A lock whose possible holders are all
 * dead is stale at once (no need to wait `staleLockMs`): that is how a restarted agent gets past the
 * lock a killed one left. PIDs of dead processes are pruned by whoever looks.
 */
export const pidsDirOf = (dbPath: string): string => `${dbPath}.pids`;
const registered = new Map<string, { count: number; role: string }>();
/** Connections of this process inside a transaction, per database (they hold the lock). */
const busyHere = new Map<string, number>();

export function registerProcess(dbPath: string, role: 'writer' | 'reader'): void {
  const r = registered.get(dbPath);
  if (r) {
    r.count++;
    if (role === 'writer' && r.role !== 'writer') {
      r.role = 'writer';
      writeFileSync(`${pidsDirOf(dbPath)}/${process.pid}`, role);
    }
    return;
  }
  mkdirSync(pidsDirOf(dbPath), { recursive: true });
  writeFileSync(`${pidsDirOf(dbPath)}/${process.pid}`, role);
  registered.set(dbPath, { count: 1, role });
}

export function unregisterProcess(dbPath: string): void {
  const r = registered.get(dbPath);
  if (!r) return;
  if (--r.count > 0) return;
  registered.delete(dbPath);
  try {
    unlinkSync(`${pidsDirOf(dbPath)}/${process.pid}`);
  } catch {
    // already gone
  }
}

/** Marks that a connection of this process holds (true) or released (false) the lock. */
export function noteHolding(dbPath: string, holding: boolean): void {
  busyHere.set(dbPath, Math.max(0, (busyHere.get(dbPath) ?? 0) + (holding ? 1 : -1)));
}

/** Other live Chase processes registered on this database, with their roles (dead ones pruned). */
export function liveProcesses(dbPath: string): { pid: number; role: string }[] {
  let names: string[];
  try {
    names = readdirSync(pidsDirOf(dbPath));
  } catch {
    return [];
  }
  const out: { pid: number; role: string }[] = [];
  for (const n of names) {
    const pid = Number(n);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (processAlive(pid)) {
      let role = 'reader';
      try {
        role = readFileSync(`${pidsDirOf(dbPath)}/${n}`, 'utf8').trim() || 'reader';
      } catch {
        // unregistered meanwhile
      }
      out.push({ pid, role });
    } else {
      try {
        unlinkSync(`${pidsDirOf(dbPath)}/${n}`);
      } catch {
        // pruned by someone else
      }
    }
  }
  return out;
}

/**
 * Fairness between the writer and readers: the lock is a plain mkdir, so a writer committing
 * back-to-back could starve a reader polling for it. A connection that has waited a while says so
 * with `<db>.pids/<pid>.waiting`; the writer, before its next transaction, gives way (briefly).
 */
export function markWaiting(dbPath: string, waiting: boolean): void {
  const f = `${pidsDirOf(dbPath)}/${process.pid}.waiting`;
  try {
    if (waiting) writeFileSync(f, '');
    else unlinkSync(f);
  } catch {
    // no pids dir (not registered) or already removed
  }
}

/** Sleeps while another live process waits for the lock, at most `maxMs`. */
export function yieldToWaiters(dbPath: string, maxMs: number): void {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    let waiting = false;
    try {
      for (const n of readdirSync(pidsDirOf(dbPath))) {
        if (!n.endsWith('.waiting')) continue;
        const pid = Number(n.slice(0, -'.waiting'.length));
        const f = `${pidsDirOf(dbPath)}/${n}`;
        if (pid !== process.pid && processAlive(pid) && (ageMs(f, Date.now) ?? Infinity) < 5000) waiting = true;
        else if (!processAlive(pid)) unlinkSync(f);
      }
    } catch {
      return;
    }
    if (!waiting) return;
    sleepSync(1);
  }
}

/** True when nobody who could hold `<db>.lock` is alive (then the lock is a dead process's). */
function holdersAllDead(dbPath: string): boolean {
  if ((busyHere.get(dbPath) ?? 0) > 0) return false;
  return liveProcesses(dbPath).length === 0;
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
  const started = now();
  const deadline = started + o.timeoutMs;
  let wait = 1;
  let marked = false;
  for (;;) {
    try {
      mkdirSync(lock);
      if (marked) markWaiting(dbPath, false);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const age = ageMs(lock, now);
    if (age === undefined) continue; // released meanwhile
    if (age > o.staleLockMs || holdersAllDead(dbPath)) {
      breakStaleLock(dbPath, o);
      continue;
    }
    if (now() >= deadline) {
      if (marked) markWaiting(dbPath, false);
      return false;
    }
    if (!marked && now() - started >= 10) {
      markWaiting(dbPath, (marked = true));
      wait = 1;
    }
    sleepSync(wait);
    if (!marked) wait = Math.min(wait * 2, 8);
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
    writeFileSync(`${mutex}/pid`, String(process.pid));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Another breaker is at work — unless it died (its pid) or stalled (age): then clear its mutex.
    const age = ageMs(mutex, now);
    let ownerDead = false;
    try {
      ownerDead = !processAlive(Number(readFileSync(`${mutex}/pid`, 'utf8')));
    } catch {
      ownerDead = age !== undefined && age > 1000; // created, but its owner never wrote its pid
    }
    if (age !== undefined && (ownerDead || age > o.staleLockMs)) {
      const aside = `${mutex}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
      try {
        renameSync(mutex, aside);
        rmSync(aside, { recursive: true, force: true });
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
    if (age === undefined) return; // released meanwhile
    const dead = holdersAllDead(dbPath);
    if (age <= o.staleLockMs && !dead) return; // re-taken by a live process meanwhile
    const rolledBack = rollbackHotJournal(dbPath);
    rmdirSync(lock);
    o.log?.warn(
      `removed the stale database lock ${lock} (${dead ? 'its holder is no longer running' : `held ${Math.round(age / 1000)} s`})` +
        (rolledBack ? `; rolled back its interrupted transaction (${rolledBack.pages} page(s) from ${journalOf(dbPath)})` : ''),
    );
  } finally {
    rmSync(mutex, { recursive: true, force: true });
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

/** Breaks `<db>.lock` if it is stale (old, or every possible holder is dead); else does nothing. */
export function breakIfStale(dbPath: string, o: RawLockOptions): void {
  const age = ageMs(lockDirOf(dbPath), o.now ?? Date.now);
  if (age !== undefined && (age > o.staleLockMs || holdersAllDead(dbPath))) breakStaleLock(dbPath, o);
}
