/**
 * A thin wrapper over node-sqlite3-wasm (WebAssembly SQLite: no native module, loads under VS Code's
 * Node and plain Node ≥ 20). It adds what the history store needs on top of that VFS:
 *  - crash recovery before open (journal.ts: hot-journal rollback, stale lock breaking);
 *  - SQLITE_BUSY retries that sleep instead of spinning, and that break a stale lock;
 *  - cached prepared statements (finalized on close) and `transaction(fn)` (BEGIN IMMEDIATE).
 *
 * Locking model (docs/history.md): the VFS has no shared memory, so no WAL; every connection —
 * reader or writer — takes the one `<db>.lock` directory for the length of a statement or a
 * transaction. Readers and the writer therefore take turns, each holding the lock for milliseconds.
 */
import { Database, type BindValues, type QueryResult, type SQLiteValue, type Statement } from 'node-sqlite3-wasm';
import { resolve } from 'node:path';
import type { Logger } from '../log';
import { breakIfStale, markWaiting, noteHolding, recoverDatabase, registerProcess, unregisterProcess, yieldToWaiters, type RecoveryOutcome } from './journal';
import { sleepSync } from '../process';

export type Row = Record<string, SQLiteValue>;

export interface SqliteOptions {
  readOnly?: boolean;
  /** Fail instead of creating the file. */
  mustExist?: boolean;
  /** How long one statement may wait for the lock (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** A lock held longer than this is a dead process's (ms), whoever is registered. Default 120000. */
  staleLockMs?: number;
  log?: Logger;
}

export class BusyError extends Error {
  constructor(path: string, ms: number) {
    super(`the history database ${path} stayed locked for ${ms} ms by another process; try again`);
    this.name = 'BusyError';
  }
}

export const isBusy = (e: unknown): boolean => e instanceof Error && /database is locked|SQLITE_BUSY/i.test(e.message);

export class SqliteDb {
  readonly path: string;
  readonly recovery: RecoveryOutcome;
  private readonly db: Database;
  private readonly statements = new Map<string, Statement>();
  private readonly busyTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly log: Logger | undefined;

  constructor(path: string, o: SqliteOptions = {}) {
    this.path = resolve(path);
    this.busyTimeoutMs = o.busyTimeoutMs ?? 5000;
    this.staleLockMs = o.staleLockMs ?? 120_000;
    this.log = o.log;
    registerProcess(this.path, o.readOnly ? 'reader' : 'writer');
    try {
      this.recovery = recoverDatabase(this.path, { timeoutMs: this.busyTimeoutMs, staleLockMs: this.staleLockMs, log: o.log });
      this.db = new Database(this.path, { readOnly: o.readOnly ?? false, fileMustExist: o.mustExist ?? false });
    } catch (e) {
      unregisterProcess(this.path);
      throw e;
    }
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Runs `op`, retrying while another connection holds the lock (and breaking the lock once it is
   * older than `staleLockMs`). `wait: false` throws BusyError at once. Only retries when no lock of
   * ours is held: outside a transaction, or on the first statement after a deferred BEGIN.
   */
  withRetry<T>(op: () => T, wait = true, firstInTransaction = false): T {
    const start = Date.now();
    let delay = 1;
    let marked = false;
    try {
      for (;;) {
        try {
          return op();
        } catch (e) {
          if (!isBusy(e) || (this.db.inTransaction && !firstInTransaction)) throw e;
          breakIfStale(this.path, { timeoutMs: 0, staleLockMs: this.staleLockMs, log: this.log });
          const waited = Date.now() - start;
          if (!wait || waited >= this.busyTimeoutMs) throw new BusyError(this.path, waited);
          if (!marked && waited >= 10) {
            markWaiting(this.path, (marked = true));
            delay = 1;
          }
          sleepSync(delay);
          if (!marked) delay = Math.min(delay * 2, 8);
        }
      }
    } finally {
      if (marked) markWaiting(this.path, false);
    }
  }

  private stmt(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  exec(sql: string): void {
    this.withRetry(() => this.db.exec(sql));
  }

  /**
   * Runs a cached statement. One that failed (e.g. SQLITE_BUSY) is finalized and dropped from the
   * cache: node-sqlite3-wasm's next bind would otherwise fail on sqlite3_reset's stale error code.
   */
  private use<T>(sql: string, fn: (s: Statement) => T): T {
    const s = this.stmt(sql);
    try {
      return fn(s);
    } catch (e) {
      this.statements.delete(sql);
      if (!s.isFinalized) s.finalize();
      throw e;
    }
  }

  run(sql: string, values?: BindValues): { changes: number; lastInsertRowid: number | bigint } {
    return this.withRetry(() => this.use(sql, (s) => s.run(values)));
  }

  all<T = Row>(sql: string, values?: BindValues): T[] {
    return this.withRetry(() => this.use(sql, (s) => s.all(values) as QueryResult[] as T[]));
  }

  /**
   * First row. (Not Statement.get(): it leaves the statement mid-step, which keeps the read
   * transaction — and so the database lock — until the statement is next used.)
   */
  get<T = Row>(sql: string, values?: BindValues): T | undefined {
    return this.withRetry(() => this.use(sql, (s) => s.all(values)[0] as T | undefined));
  }

  pragma(name: string): SQLiteValue {
    const row = this.withRetry(() => this.db.get(`PRAGMA ${name}`)) as Row | null;
    return row ? Object.values(row)[0] : null;
  }

  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE: the lock is taken up front, so nothing in
   * `fn` can meet SQLITE_BUSY). `wait: false` throws BusyError instead of waiting for the lock.
   */
  transaction<T>(fn: () => T, wait = true, onRollback?: () => void): T {
    yieldToWaiters(this.path, 50);
    this.withRetry(() => this.db.exec('BEGIN IMMEDIATE'), wait);
    noteHolding(this.path, true);
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      onRollback?.();
      throw e;
    } finally {
      noteHolding(this.path, false);
    }
  }

  /** A consistent read of several statements (the lock is held from the first to COMMIT). */
  read<T>(fn: () => T): T {
    this.db.exec('BEGIN');
    let holding = false;
    try {
      this.withRetry(() => this.db.all('SELECT count(*) FROM sqlite_master'), true, true);
      noteHolding(this.path, (holding = true));
      return fn();
    } finally {
      if (this.db.inTransaction) this.db.exec('COMMIT');
      if (holding) noteHolding(this.path, false);
    }
  }

  close(): void {
    for (const s of this.statements.values()) if (!s.isFinalized) s.finalize();
    this.statements.clear();
    if (this.db.isOpen) {
      this.db.close();
      unregisterProcess(this.path);
    }
  }
}

