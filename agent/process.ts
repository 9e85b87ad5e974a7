/** Process helpers shared by the GPU journal, the history lock, runs and the CLI. */

/** True when `pid` may still be running (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
