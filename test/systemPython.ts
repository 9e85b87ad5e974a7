/**
 * The Python the peer tests run: Debian's /usr/bin/python3, where scripts/setup.sh installs
 * python3-torch, python3-torchvision and python3-tqdm (a `python3` earlier on PATH, e.g. pyenv's, has
 * none of them). CHASE_PYTHON overrides it.
 */
import { execFile, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';

export const SYSTEM_PYTHON = process.env.CHASE_PYTHON || '/usr/bin/python3';

/** Fails (never skips) with what to install when a module the test needs is missing. */
export function requirePythonModules(modules: readonly string[], debianPackages: readonly string[]): void {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  assert.equal(
    r.status,
    0,
    `${SYSTEM_PYTHON} cannot import ${modules.join(', ')} (${(r.stderr || String(r.error ?? '')).trim().split('\n').pop()}). Run scripts/setup.sh, or apt-get install -y ${debianPackages.join(' ')} (or set CHASE_PYTHON). This test does not skip.`,
  );
}

/** Runs the system Python to completion (async: a server under test may share this event loop). */
export function runPython(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(SYSTEM_PYTHON, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}
