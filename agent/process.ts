/**
 * Process helpers shared by the GPU journal and claims, the history lock, runs, the privileged
 * service and the CLI: liveness, identity (start time, owner) and a synchronous sleep.
 */
import { readFileSync } from 'node:fs';

/** True when `pid` may still be running (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When the process started, in clock ticks since boot (field 22 of /proc/PID/stat), as a string;
 * undefined where /proc is missing (not Linux) or the process is gone. A pid plus its start time
 * names one process: pids are reused, start times of live pids are not.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may itself contain spaces and ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall; fields[0] here is field 3
  } catch {
    return undefined;
  }
}

/** True when the process that had `startTime` (processStartTime) is still the one running as `pid`. */
export function sameProcessAlive(pid: number, startTime: string | undefined): boolean {
  if (!processAlive(pid)) return false;
  if (startTime === undefined) return true; // no /proc when it was recorded: liveness is all we know
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

/** The real uid of a running process (Linux /proc/PID/status); undefined when it is gone or unreadable. */
export function processOwnerUid(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Uid:'));
    const uid = line ? Number(line.split(/\s+/)[1]) : NaN;
    return Number.isInteger(uid) ? uid : undefined;
  } catch {
    return undefined;
  }
}

/** A user's login name from /etc/passwd, else "uid N" (for messages that say who holds a GPU). */
export function userName(uid: number, passwdFile = '/etc/passwd'): string {
  try {
    const line = readFileSync(passwdFile, 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    if (line) return line.split(':')[0];
  } catch {
    /* no passwd file (Windows, some containers) */
  }
  return `uid ${uid}`;
}

/** This process's user name, for claims it takes ("held by pid N (user U)"). */
export function currentUserName(): string {
  const uid = process.getuid?.();
  return uid === undefined ? (process.env.USERNAME ?? process.env.USER ?? 'unknown') : userName(uid);
}

let cachedBootId: string | undefined | null = null;
/** Linux boot id: a pid recorded in another boot names no live process, whatever runs under it now. */
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

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` without spinning (for code that is synchronous on purpose: SQLite calls, the limit journal in an exit handler). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, Math.max(1, Math.round(ms)));
}
