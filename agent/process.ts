/** Process helpers shared by the GPU journal, the history lock, runs and the CLI: liveness and a synchronous sleep. */

/** True when `pid` may still be running (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the thread for `ms` without spinning (for code that is synchronous on purpose: SQLite calls, the limit journal in an exit handler). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, Math.max(1, Math.round(ms)));
}
