/**
 * Where the agent finds files it ships with, and where it keeps its state. The bundle is `dist/agent.js`; tests run the compiled
 * sources from `out/agent/...`. Both sit two or three levels below the package root, so the root is
 * found by walking up to the nearest package.json.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

export const packageRoot = findPackageRoot(__dirname);
export const embeddedTracesDir = join(packageRoot, 'agent', 'carbon', 'traces');

/**
 * The agent's state directory (the limit journal, the run history): env CHASE_STATE_DIR, else
 * $XDG_STATE_HOME/chase, else ~/.local/state/chase (%LOCALAPPDATA%\chase\state on Windows).
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): string {
  if (env.CHASE_STATE_DIR) return env.CHASE_STATE_DIR;
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'chase', 'state');
  return join(env.XDG_STATE_HOME || join(home, '.local', 'state'), 'chase');
}
