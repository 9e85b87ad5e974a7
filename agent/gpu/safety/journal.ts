/**
 * The power-limit journal: before the agent changes a GPU's limit it records, durably, what the
 * limit was before Chase touched it and what it is being set to. A restarted agent reads it to
 * restore limits that a killed agent (SIGKILL, OOM kill, power loss of the host process) left
 * behind.
 *
 * File: `<state dir>/power-limits.json`, one small JSON document, replaced atomically
 * (write temp → fsync → rename → fsync directory). Several agents may share it (a system service and
 * a `chase-agent run` on other GPUs), so each read-modify-write holds `power-limits.json.lock`,
 * created exclusively with the writer's pid already in it; a lock whose pid is dead, that names no
 * pid, or older than any write could take, is taken over. All I/O is synchronous on purpose: the journal is
 * written before each limit change (rare) and must also work inside `process.on('exit')`.
 *
 * State dir: env CHASE_STATE_DIR, else $XDG_STATE_HOME/chase, else ~/.local/state/chase
 * (%LOCALAPPDATA%\chase\state on Windows).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { createExclusive, readExclusive } from './exclusiveFile';
import { describeError } from '../../log';
import { join } from 'node:path';
import type { GpuBackendKind } from '../backend';
import { currentBootId, processAlive, sleepSync } from '../../process';
import { defaultStateDir } from '../../paths';

export interface JournalEntry {
  uuid: string;
  backend: GpuBackendKind;
  /** The backend's index when recorded (a hint; the UUID is authoritative). */
  index: number;
  /** The limit before Chase first touched this GPU: what restoring sets. */
  previousLimitMw: number;
  /** The limit being applied. */
  newLimitMw: number;
  ownerPid: number;
  /** Linux boot id: an entry from another boot has a dead owner whatever its pid. */
  bootId?: string;
  updatedAtMs: number;
}

interface JournalFile {
  version: 1;
  entries: JournalEntry[];
}

/** How long a writer waits for another process's lock by default. */
const LOCK_WAIT_MS = 5_000;
/** A lock older than this is stale whatever its pid says (a write takes milliseconds; pids get reused). */
const LOCK_STALE_MS = 30_000;
/** A lock that names no pid is taken over after this (an agent of an older version may be between creating and writing it). */
const UNNAMED_LOCK_GRACE_MS = 100;

export interface LimitJournalOptions {
  /** How long to wait for another process's lock before failing (ms). */
  lockWaitMs?: number;
}

export class LimitJournal {
  readonly file: string;
  private readonly lockFile: string;
  private readonly lockWaitMs: number;

  constructor(readonly dir: string = defaultStateDir(), options: LimitJournalOptions = {}) {
    this.file = join(dir, 'power-limits.json');
    this.lockFile = `${this.file}.lock`;
    this.lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  }

  read(): JournalEntry[] {
    if (!existsSync(this.file)) return [];
    let parsed: JournalFile;
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8')) as JournalFile;
    } catch (e) {
      throw new Error(`The power-limit journal ${this.file} is unreadable (${e instanceof Error ? e.message : String(e)}). Check the GPUs' limits with \`chase-agent gpus\`, then delete the file.`);
    }
    return Array.isArray(parsed.entries) ? parsed.entries : [];
  }

  /**
   * Records a limit about to be applied. If this GPU already has an entry, its `previousLimitMw`
   * (the limit before Chase) is kept: restoring must go back to the original, not to the last
   * throttled value.
   */
  record(entry: Omit<JournalEntry, 'ownerPid' | 'bootId' | 'updatedAtMs'>, now = Date.now()): JournalEntry {
    return this.locked(() => this.recordUnlocked(entry, now));
  }

  private recordUnlocked(entry: Omit<JournalEntry, 'ownerPid' | 'bootId' | 'updatedAtMs'>, now: number): JournalEntry {
    const entries = this.read();
    const existing = entries.find((e) => e.uuid === entry.uuid);
    const next: JournalEntry = {
      ...entry,
      previousLimitMw: existing ? existing.previousLimitMw : entry.previousLimitMw,
      ownerPid: process.pid,
      bootId: currentBootId(),
      updatedAtMs: now,
    };
    this.write([...entries.filter((e) => e.uuid !== entry.uuid), next]);
    return next;
  }

  remove(uuids: string[]): void {
    this.locked(() => {
      const entries = this.read();
      const kept = entries.filter((e) => !uuids.includes(e.uuid));
      if (kept.length !== entries.length) this.write(kept);
    });
  }

  /**
   * Runs a read-modify-write under the journal's lock. Synchronous like the rest (it also runs in
   * `process.on('exit')`): waiting sleeps the thread for a few milliseconds at a time.
   */
  private locked<T>(fn: () => T): T {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + this.lockWaitMs;
    for (let attempt = 0; ; attempt++) {
      // The lock appears with the pid already in it (exclusiveFile.ts): a full disk fails here
      // instead of leaving an empty lock that would stall every later agent.
      let created: boolean;
      try {
        created = createExclusive(this.lockFile, `${process.pid}\n`);
      } catch (e) {
        throw new Error(`Cannot lock the power-limit journal in ${this.dir}: ${describeError(e)}. Free space or fix the permissions of ${this.dir}.`, { cause: e });
      }
      if (created) break;
      const holder = this.lockHolder();
      if (holder.stale) {
        try {
          unlinkSync(this.lockFile);
        } catch {
          // another waiter took it over first
        }
        continue;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `The power-limit journal ${this.file} is locked by process ${holder.pid ?? '(unknown)'} (another Chase agent) for longer than ${this.lockWaitMs} ms. ` +
            `If no chase-agent is running, delete ${this.lockFile}.`,
        );
      }
      sleepSync(Math.min(1 + attempt, 20));
    }
    try {
      return fn();
    } finally {
      try {
        unlinkSync(this.lockFile);
      } catch {
        // already gone: nothing to release
      }
    }
  }

  /**
   * The lock's owner, and whether the lock is stale: its owner is dead, it is held implausibly long,
   * or it names no process at all (empty or garbage: left by an older agent on a full disk, say) —
   * no live agent can be waiting on such a lock, so it is taken over after a short grace.
   */
  private lockHolder(): { pid?: number; stale: boolean } {
    let lock: ReturnType<typeof readExclusive>;
    try {
      lock = readExclusive(this.lockFile);
    } catch {
      return { stale: false };
    }
    if (!lock) return { stale: false }; // released meanwhile: try again
    const ageMs = Date.now() - lock.mtimeMs;
    const pid = Number.parseInt(lock.content, 10);
    if (lock.symlink || !Number.isInteger(pid) || pid <= 0) return { stale: lock.symlink || ageMs > UNNAMED_LOCK_GRACE_MS };
    return { pid, stale: ageMs > LOCK_STALE_MS || (pid !== process.pid && !processAlive(pid)) };
  }

  /** Entries whose owner is gone: a dead pid, or another boot. */
  orphaned(): JournalEntry[] {
    const boot = currentBootId();
    return this.read().filter((e) => (e.bootId !== undefined && boot !== undefined && e.bootId !== boot) || (e.ownerPid !== process.pid && !processAlive(e.ownerPid)));
  }

  private write(entries: JournalEntry[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const body: JournalFile = { version: 1, entries };
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      try {
        writeSync(fd, JSON.stringify(body, null, 1) + '\n');
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (e) {
      // e.g. ENOSPC: the journal keeps its last complete version; no partial file is left behind
      try {
        unlinkSync(tmp);
      } catch {
        /* not there */
      }
      throw e;
    }
    // fsync the directory so the rename itself survives a crash (not possible on Windows).
    if (process.platform !== 'win32') {
      const dfd = openSync(this.dir, 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    }
  }
}
