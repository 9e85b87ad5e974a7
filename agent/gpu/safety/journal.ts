/**
 * The power-limit journal: before the agent changes a GPU's limit it records, durably, what the
 * limit was before Chase touched it and what it is being set to. A restarted agent reads it to
 * restore limits that a killed agent (SIGKILL, OOM kill, power loss of the host process) left
 * behind.
 *
 * File: `<state dir>/power-limits.json`, one small JSON document, replaced atomically
 * (write temp → fsync → rename → fsync directory). All I/O is synchronous on purpose: the journal is
 * written before each limit change (rare) and must also work inside `process.on('exit')`.
 *
 * State dir: env CHASE_STATE_DIR, else $XDG_STATE_HOME/chase, else ~/.local/state/chase
 * (%LOCALAPPDATA%\chase\state on Windows).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GpuBackendKind } from '../backend';
import { processAlive } from '../../process';

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

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.CHASE_STATE_DIR) return env.CHASE_STATE_DIR;
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'chase', 'state');
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'chase');
}

let cachedBootId: string | undefined | null = null;
export function currentBootId(): string | undefined {
  if (cachedBootId === null) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
    } catch {
      cachedBootId = undefined;
    }
  }
  return cachedBootId;
}

export class LimitJournal {
  readonly file: string;

  constructor(readonly dir: string = defaultStateDir()) {
    this.file = join(dir, 'power-limits.json');
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
    const entries = this.read();
    const kept = entries.filter((e) => !uuids.includes(e.uuid));
    if (kept.length !== entries.length) this.write(kept);
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
      writeSync(fd, JSON.stringify(body, null, 1) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
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
